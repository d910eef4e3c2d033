import { afterAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/index.js';
import { startSluice, type RunningSluice } from '../../src/sluice.js';
import { createLogger } from '../../src/telemetry/index.js';
import { parseExposition } from '../helpers/exposition.js';
import { freePort, startNode, stopAll, waitFor, type Proc } from '../helpers/processes.js';
import { chatStream, sleep } from '../helpers/streams.js';

let sluice: RunningSluice | undefined;
afterAll(async () => {
  await sluice?.close(0);
  await stopAll();
});

/** A sample model server on a loopback alias (Linux routes all of 127/8 on lo). */
async function serverOn(address: string, port: number): Promise<Proc> {
  const proc = startNode('dist/model-server/main.js', [], { PORT: String(port), HOST: address, SERVER_ID: address, MODELS: 'm:1', LOAD_TIME: '100ms', TOKEN_DELAY: '40ms' });
  await waitFor(async () => (await fetch(`http://${address}:${port}/health`)).ok, 30_000, `${address} healthy`);
  return proc;
}

async function endpointSeries(url: string): Promise<Set<string>> {
  const exp = parseExposition(await (await fetch(`${url}/metrics`)).text());
  const names = new Set<string>();
  for (const family of exp.values()) for (const s of family.samples) if (s.labels.endpoint) names.add(s.labels.endpoint);
  return names;
}

describe('endpoints discovered through DNS', () => {
  it('one endpoint per address, each with its own health; a vanished address drains, then its series go', async () => {
    const port = await freePort();
    const procs = await Promise.all(['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((a) => serverOn(a, port)));
    let answer = ['127.0.0.1', '127.0.0.2'];
    const config = validateConfig({
      server: { host: '127.0.0.1', port: await freePort() },
      logging: { level: 'error' },
      health: { slow_start: '0s' },
      proxy: { expose_route_headers: true },
      endpoints: [{ name: 'pool', url: `http://model.test:${port}`, type: 'openai', health_path: '/health', check_interval: '200ms', discover: 'dns', discover_interval: '200ms' }],
    });
    const lookups: string[] = [];
    sluice = await startSluice(config, {
      logger: createLogger('error'),
      resolver: async (host) => {
        lookups.push(host);
        return answer;
      },
    });
    const url = sluice.url;
    const names = () => sluice!.endpoints.map((ep) => ep.name);
    const member = (a: string) => `pool@${a}:${port}`;
    expect(names()).toEqual([member('127.0.0.1'), member('127.0.0.2')]);
    expect(lookups[0]).toBe('model.test');
    await waitFor(() => sluice!.endpoints.every((ep) => ep.state === 'healthy' && ep.models.size > 0), 15_000, 'members healthy');

    // A new address joins and takes traffic.
    answer = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
    await waitFor(() => names().length === 3 && sluice!.endpoints.every((ep) => ep.routable && ep.models.size > 0), 15_000, 'third member routable');
    const seen = new Set<string>();
    for (let i = 0; i < 9; i++) {
      const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm:1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }) });
      expect(res.status).toBe(200);
      seen.add(res.headers.get('x-sluice-endpoint')!);
    }
    expect([...seen].sort()).toEqual([member('127.0.0.1'), member('127.0.0.2'), member('127.0.0.3')]);

    // Each member has its own health: one backend down leaves the others untouched.
    await procs[2]!.stop('SIGKILL');
    await waitFor(() => sluice!.endpoints.find((ep) => ep.name === member('127.0.0.3'))?.state === 'unhealthy', 10_000, 'member 3 unhealthy');
    expect(sluice.endpoints.filter((ep) => ep.name !== member('127.0.0.3')).map((ep) => ep.state)).toEqual(['healthy', 'healthy']);

    // Streams on a member whose address vanishes finish; then its series are deleted.
    const streams = Array.from({ length: 6 }, () => chatStream(url, 60));
    await Promise.all(streams.map((s) => s.opened));
    answer = ['127.0.0.1', '127.0.0.3'];
    await waitFor(() => !names().includes(member('127.0.0.2')), 10_000, 'member 2 out of rotation');
    expect((await endpointSeries(url)).has(member('127.0.0.2'))).toBe(true); // still draining
    const results = await Promise.all(streams.map((s) => s.done));
    expect(results.filter((r) => r.endpoint === member('127.0.0.2')).length).toBeGreaterThan(0);
    for (const r of results) expect(r).toMatchObject({ status: 200, complete: true });
    await waitFor(async () => !(await endpointSeries(url)).has(member('127.0.0.2')), 10_000, 'member 2 series deleted');
    const left = await endpointSeries(url);
    expect(left.has(member('127.0.0.1'))).toBe(true);
    expect(left.has(member('127.0.0.3'))).toBe(true);
    await sleep(0);
  }, 150_000);

  it('a name that resolves to nothing yet: 503 with Retry-After until the next lookup', async () => {
    const config = validateConfig({
      server: { host: '127.0.0.1', port: await freePort() },
      logging: { level: 'error' },
      endpoints: [{ name: 'pool', url: 'http://model.test:8000', type: 'openai', discover: 'dns', discover_interval: '7s' }],
    });
    const empty = await startSluice(config, { logger: createLogger('error'), resolver: async () => [] });
    try {
      expect(empty.endpoints).toEqual([]);
      const res = await fetch(`${empty.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"messages":[]}' });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('no_routable_endpoint');
      // Was `Infinity` (the soonest check of no endpoint at all).
      expect(res.headers.get('retry-after')).toBe('7');
    } finally {
      await empty.close(0);
    }
  });
});
