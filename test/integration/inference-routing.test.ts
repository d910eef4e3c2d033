import { afterEach, describe, expect, it } from 'vitest';
import { parseExposition } from '../helpers/exposition.js';
import { startModelServer, startSluice, stopAll, waitReady, type ModelServer, type SluiceProc } from '../helpers/processes.js';

afterEach(stopAll);

/** A config for `servers` with `extra` top-level sections; vLLM-typed endpoints read their /metrics. */
function config(port: number, servers: readonly ModelServer[], extra: string, type = 'vllm'): string {
  const endpoints = servers
    .map((s) => `  - name: ${s.id}\n    url: ${s.url}\n    type: ${type}\n    health_path: /health\n    check_interval: 200ms\n    check_timeout: 500ms`)
    .join('\n');
  return `server:\n  host: 127.0.0.1\n  port: ${port}\nhealth:\n  slow_start: 0s\n${extra}\nendpoints:\n${endpoints}\n`;
}

const tenantPrompt = (tenant: number) => `Tenant ${tenant} policy. ${`You answer questions about product line ${tenant} politely, precisely and briefly. `.repeat(24)}`;

async function chat(sluice: SluiceProc, system: string, user: string, headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(`${sluice.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'm:1', max_tokens: 2, messages: [{ role: 'system', content: system }, { role: 'user', content: user }] }),
  });
  await res.text();
  return res;
}

async function prefixHitRate(servers: readonly ModelServer[]): Promise<number> {
  let hits = 0;
  let queries = 0;
  for (const server of servers) {
    const families = parseExposition(await (await fetch(`${server.url}/metrics`)).text());
    for (const sample of families.get('vllm:prefix_cache_hits_total')?.samples ?? []) hits += sample.value;
    for (const sample of families.get('vllm:prefix_cache_queries_total')?.samples ?? []) queries += sample.value;
  }
  return queries === 0 ? 0 : hits / queries;
}

describe('inference-aware routing across real processes', () => {
  it('names the endpoint and the route in response headers only when asked to', async () => {
    const backend = await startModelServer('only', ['m:1']);
    const quiet = await startSluice((port) => config(port, [backend], '', 'openai'));
    const open = await startSluice((port) => config(port, [backend], 'proxy:\n  expose_route_headers: true', 'openai'));
    await Promise.all([waitReady(quiet.url, 1, ['m:1']), waitReady(open.url, 1, ['m:1'])]);
    const hidden = await chat(quiet, 'sys', 'hi');
    expect(hidden.status).toBe(200);
    expect(hidden.headers.get('x-sluice-endpoint')).toBeNull();
    expect(hidden.headers.get('x-sluice-route')).toBeNull();
    const shown = await chat(open, 'sys', 'hi');
    expect(shown.headers.get('x-sluice-endpoint')).toBe('only');
    expect(shown.headers.get('x-sluice-route')).toBe('strategy');
  });

  it('two replicas with the same configuration make the same prefix-affinity and sticky decisions', async () => {
    const servers = await Promise.all(['r1', 'r2', 'r3', 'r4'].map((id) => startModelServer(id, ['m:1'])));
    const extra = 'balancing:\n  strategy: prefix-aware\n  sticky:\n    key: header:X-Session\nproxy:\n  expose_route_headers: true';
    const [one, two] = [await startSluice((port) => config(port, servers, extra, 'openai')), await startSluice((port) => config(port, servers, extra, 'openai'))];
    await Promise.all([waitReady(one.url, 4, ['m:1']), waitReady(two.url, 4, ['m:1'])]);
    const prefixChoices = new Set<string>();
    for (let tenant = 0; tenant < 12; tenant++) {
      const viaOne = await chat(one, tenantPrompt(tenant), 'first question');
      const viaTwo = await chat(two, tenantPrompt(tenant), 'another question from someone else');
      expect(viaOne.headers.get('x-sluice-route')).toBe('prefix_hash');
      expect(viaTwo.headers.get('x-sluice-endpoint')).toBe(viaOne.headers.get('x-sluice-endpoint'));
      prefixChoices.add(viaOne.headers.get('x-sluice-endpoint')!);
      // The replica that has seen the prefix now follows its index, to the same endpoint.
      const again = await chat(one, tenantPrompt(tenant), 'a follow-up');
      expect(again.headers.get('x-sluice-route')).toBe('prefix_match');
      expect(again.headers.get('x-sluice-endpoint')).toBe(viaOne.headers.get('x-sluice-endpoint'));
    }
    expect(prefixChoices.size).toBeGreaterThan(1);
    for (let user = 0; user < 12; user++) {
      const session = { 'x-session': `user-${user}` };
      const viaOne = await chat(one, 'short', `q${user}`, session);
      const viaTwo = await chat(two, 'short', `other q${user}`, session);
      expect(viaOne.headers.get('x-sluice-route')).toBe('sticky');
      expect(viaTwo.headers.get('x-sluice-endpoint')).toBe(viaOne.headers.get('x-sluice-endpoint'));
    }
  });

  it("prefix affinity holds a Responses API body's instructions and an Anthropic Messages body's system prompt to one endpoint", async () => {
    const servers = await Promise.all(['p1', 'p2', 'p3', 'p4'].map((id) => startModelServer(id, ['m:1'])));
    const sluice = await startSluice((port) => config(port, servers, 'balancing:\n  strategy: prefix-aware\nproxy:\n  expose_route_headers: true', 'openai'));
    await waitReady(sluice.url, 4, ['m:1']);
    const route = async (path: string, body: Record<string, unknown>) => {
      const res = await fetch(`${sluice.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm:1', ...body }) });
      await res.text();
      return { endpoint: res.headers.get('x-sluice-endpoint'), route: res.headers.get('x-sluice-route') };
    };
    const chosen = new Set<string>();
    for (let tenant = 0; tenant < 6; tenant++) {
      const responses = await route('/v1/responses', { instructions: tenantPrompt(tenant), input: 'first question' });
      expect(responses.route).toBe('prefix_hash');
      expect(await route('/v1/responses', { instructions: tenantPrompt(tenant), input: [{ role: 'user', content: 'a follow-up from someone else' }] })).toEqual({ endpoint: responses.endpoint, route: 'prefix_match' });
      const messages = await route('/v1/messages', { max_tokens: 2, system: [{ type: 'text', text: tenantPrompt(100 + tenant) }], messages: [{ role: 'user', content: 'first question' }] });
      expect(messages.route).toBe('prefix_hash');
      expect(await route('/v1/messages', { max_tokens: 2, system: tenantPrompt(100 + tenant), messages: [{ role: 'user', content: 'a follow-up from someone else' }] })).toEqual({ endpoint: messages.endpoint, route: 'prefix_match' });
      chosen.add(responses.endpoint!).add(messages.endpoint!);
    }
    expect(chosen.size).toBeGreaterThan(1);
  });

  it('a prefix-heavy workload gets a higher backend prefix-cache hit rate through prefix-aware than through round-robin', async () => {
    const sim = { ENGINE: 'sim', PREFILL_MS_PER_TOKEN: '0.05', DECODE_MS_PER_STEP: '2' };
    // Five tenants over three engines: round-robin sends a tenant's next turn to another engine
    // (with a multiple of three it would keep each tenant on one engine by accident).
    const TENANTS = 5;
    const run = async (strategy: string, tag: string): Promise<{ rate: number; metrics: string }> => {
      const servers = await Promise.all([1, 2, 3].map((n) => startModelServer(`${tag}-${n}`, ['m:1'], sim)));
      const sluice = await startSluice((port) => config(port, servers, `balancing:\n  strategy: ${strategy}`));
      await waitReady(sluice.url, 3, ['m:1']);
      for (let round = 0; round < 3; round++) {
        for (let tenant = 0; tenant < TENANTS; tenant++) expect((await chat(sluice, tenantPrompt(tenant), `round ${round} question`)).status).toBe(200);
      }
      const metrics = await (await fetch(`${sluice.url}/metrics`)).text();
      return { rate: await prefixHitRate(servers), metrics };
    };
    const roundRobin = await run('round-robin', 'rr');
    const prefixAware = await run('prefix-aware', 'pa');
    expect(prefixAware.rate).toBeGreaterThan(roundRobin.rate);
    // Sluice read the engines' own load (vLLM metrics) while routing.
    expect(prefixAware.metrics).toMatch(/sluice_load_scrapes_total\{endpoint="pa-1",result="success"\} [1-9]/);
    expect(prefixAware.metrics).toMatch(/sluice_prefix_index_lookups_total\{result="hit"\} (1[0-9]|[2-9][0-9])/);
  }, 180_000);
});
