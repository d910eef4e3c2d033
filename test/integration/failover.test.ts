import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { postFault, startModelServer, startSluice, stopAll, testConfig, waitFor, waitReady, type ModelServer, type SluiceProc } from '../helpers/processes.js';

afterEach(stopAll);
afterAll(stopAll);

interface EndpointStatus {
  name: string;
  status: string;
  circuit: string;
  models: string[];
  consecutive_failures: number;
}

async function endpoints(sluice: SluiceProc): Promise<Map<string, EndpointStatus>> {
  const body = (await (await fetch(`${sluice.url}/internal/status/endpoints`)).json()) as { endpoints: EndpointStatus[] };
  return new Map(body.endpoints.map((e) => [e.name, e]));
}

async function waitForStatus(sluice: SluiceProc, name: string, status: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => (await endpoints(sluice)).get(name)?.status === status, timeoutMs, `${name} ${status}`);
}

function chat(sluice: SluiceProc, model: string, signal?: AbortSignal) {
  return fetch(`${sluice.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }], max_tokens: 4 }),
    signal,
  });
}

async function setFault(server: ModelServer, mode: string): Promise<void> {
  const res = await postFault(server.url, { mode });
  expect(res.status).toBe(200);
}

async function modelIds(sluice: SluiceProc): Promise<string[]> {
  const body = (await (await fetch(`${sluice.url}/v1/models`)).json()) as { data: Array<{ id: string }> };
  return body.data.map((m) => m.id).sort();
}

describe('failover', () => {
  it('SIGKILL of one of three servers under load: zero failed requests, unhealthy at the first refused connection, back after restart', async () => {
    const servers = await Promise.all([
      startModelServer('server-1', ['shared:1b']),
      startModelServer('server-2', ['shared:1b']),
      startModelServer('victim', ['shared:1b', 'victim-only:1b'], { TOKEN_DELAY: '2ms' }),
    ]);
    // Requests in flight on the victim when it dies may have run there: POSTs are sent again only when allowed.
    // Checks that time out on a busy machine must not mark the victim down before the kill.
    const sluice = await startSluice((port) => testConfig(port, servers.map((s) => ({ id: s.id, url: s.url })), 'proxy:\n  retry_non_idempotent: true').replaceAll('check_timeout: 500ms', 'check_timeout: 5s'));
    await waitReady(sluice.url, 3, ['shared:1b', 'victim-only:1b']);

    const victim = servers[2]!;
    const total = 1000;
    const concurrency = 50;
    let sent = 0;
    const failures: string[] = [];
    const byEndpoint = new Map<string, number>();
    let killedAt = 0;
    const worker = async () => {
      while (sent < total) {
        const n = ++sent;
        if (n === 300) {
          victim.proc.child.kill('SIGKILL');
          killedAt = Date.now();
        }
        const res = await chat(sluice, 'shared:1b');
        const text = await res.text();
        if (res.status !== 200) failures.push(`${res.status} ${text}`);
        const ep = res.headers.get('x-sluice-endpoint') ?? 'none';
        byEndpoint.set(ep, (byEndpoint.get(ep) ?? 0) + 1);
      }
    };
    const load = Promise.all(Array.from({ length: concurrency }, worker));
    await waitFor(() => killedAt > 0, 30_000, 'kill');
    await waitForStatus(sluice, 'victim', 'unhealthy', 5000);
    await load;

    expect(failures).toEqual([]);
    // Detected by the first refused connection (passive), not by waiting for checks to fail `fall` times.
    const down = sluice.proc.jsonLines().find((l) => l.message === 'endpoint state changed' && l.endpoint === 'victim' && l.to === 'unhealthy');
    expect(String(down?.reason)).toMatch(/^connection failed/);
    expect(byEndpoint.get('victim') ?? 0).toBeGreaterThan(0);
    expect((byEndpoint.get('server-1') ?? 0) + (byEndpoint.get('server-2') ?? 0) + (byEndpoint.get('victim') ?? 0)).toBe(total);
    // Its only-here model is no longer offered while no routable endpoint serves it.
    expect(await modelIds(sluice)).toEqual(['shared:1b']);

    // Restart with a new model: recovering first, healthy after two passing checks, models re-discovered.
    // `recovering` lasts one check interval (200 ms), which a status poll can miss on a busy
    // machine: the transitions are read from Sluice's own log of every state change instead.
    const victimTransitions = () =>
      sluice.proc.jsonLines().filter((l) => l.message === 'endpoint state changed' && l.endpoint === 'victim').map((l) => `${String(l.from)}->${String(l.to)}`);
    const before = victimTransitions().length;
    const reborn = await startModelServer('victim', ['shared:1b', 'victim-only:1b', 'added-while-down:1b'], {}, victim.port);
    await waitFor(() => victimTransitions().slice(before).includes('recovering->healthy'), 10_000, 'victim healthy again');
    const seen = victimTransitions().slice(before);
    expect(seen).toContain('unhealthy->recovering');
    expect(seen.indexOf('unhealthy->recovering')).toBeLessThan(seen.indexOf('recovering->healthy'));
    await waitForStatus(sluice, 'victim', 'healthy', 5000);
    await waitFor(async () => (await modelIds(sluice)).includes('added-while-down:1b'), 5000, 'models re-discovered');
    expect(await modelIds(sluice)).toEqual(['added-while-down:1b', 'shared:1b', 'victim-only:1b']);
    await reborn.proc.stop();
  });

  it('a hanging server: requests time out and are retried on another endpoint', async () => {
    const good = await startModelServer('good', ['m:1']);
    const hung = await startModelServer('hung', ['m:1']);
    // The hung server's checks go to /admin/fault, which a fault never affects, so only the request path sees it.
    // The first-byte timeout leaves the good server room on a loaded machine; the hung one never answers.
    const sluice = await startSluice((port) =>
      testConfig(port, [{ id: 'good', url: good.url }, { id: 'hung', url: hung.url }], 'proxy:\n  first_byte_timeout: 2s\n  retry_non_idempotent: true').replace(/health_path: \/health/g, 'health_path: /admin/fault'),
    );
    await waitReady(sluice.url, (await endpoints(sluice)).size, ['m:1']);
    await setFault(hung, 'hang');
    const results = await Promise.all(Array.from({ length: 10 }, async () => {
      const res = await chat(sluice, 'm:1');
      await res.text();
      return { status: res.status, endpoint: res.headers.get('x-sluice-endpoint'), attempts: res.headers.get('x-sluice-attempts') };
    }));
    expect(results.every((r) => r.status === 200 && r.endpoint === 'good')).toBe(true);
    // Round-robin sent about half of them to the hung server first; those needed a second attempt.
    expect(results.filter((r) => r.attempts === '2').length).toBeGreaterThan(0);
  });

  it('a server answering 503 to everything: its breaker opens and it gets no requests while open (least-connections)', async () => {
    const good = await startModelServer('good', ['m:1'], { TOKEN_DELAY: '10ms' });
    const bad = await startModelServer('bad', ['m:1']);
    const sluice = await startSluice((port) =>
      testConfig(port, [{ id: 'good', url: good.url }, { id: 'bad', url: bad.url }], 'balancing:\n  strategy: least-connections\nbreaker:\n  failure_threshold: 5\n  open_duration: 60s').replace(/health_path: \/health/g, 'health_path: /admin/fault'),
    );
    await waitReady(sluice.url, (await endpoints(sluice)).size, ['m:1']);
    await setFault(bad, 'error');
    const statuses: number[] = [];
    const worker = async () => {
      for (let i = 0; i < 20; i++) {
        const res = await chat(sluice, 'm:1');
        await res.text();
        statuses.push(res.status);
      }
    };
    await Promise.all(Array.from({ length: 10 }, worker));
    expect(statuses.every((s) => s === 200)).toBe(true);
    const status = (await endpoints(sluice)).get('bad')!;
    expect(status.circuit).toBe('open');
    // Without counting 5xx, a fast-failing endpoint wins every least-connections pick; with the
    // breaker it saw only the requests that opened it (plus those already in flight then).
    const metrics = await (await fetch(`${sluice.url}/metrics`)).text();
    const failed = Number(/sluice_endpoint_failures_total\{endpoint="bad",reason="http_5xx"\} (\d+)/.exec(metrics)?.[1]);
    expect(failed).toBeGreaterThanOrEqual(5);
    expect(failed).toBeLessThanOrEqual(5 + 10);
    // More traffic while open: none of it reaches the bad endpoint.
    for (let i = 0; i < 20; i++) expect((await chat(sluice, 'm:1')).headers.get('x-sluice-endpoint')).toBe('good');
    const after = await (await fetch(`${sluice.url}/metrics`)).text();
    expect(Number(/sluice_endpoint_failures_total\{endpoint="bad",reason="http_5xx"\} (\d+)/.exec(after)?.[1])).toBe(failed);
  });

  it('all endpoints down: 503 with Retry-After at once', async () => {
    const a = await startModelServer('a', ['m:1']);
    const b = await startModelServer('b', ['m:1']);
    const sluice = await startSluice((port) => testConfig(port, [{ id: 'a', url: a.url }, { id: 'b', url: b.url }]));
    await waitReady(sluice.url, (await endpoints(sluice)).size, ['m:1']);
    await Promise.all([a.proc.stop('SIGKILL'), b.proc.stop('SIGKILL')]);
    await waitFor(async () => [...(await endpoints(sluice)).values()].every((e) => e.status === 'unhealthy'), 5000, 'all unhealthy');
    for (let i = 0; i < 5; i++) {
      const res = await chat(sluice, 'm:1');
      expect(res.status).toBe(503);
      // At once: no endpoint is tried (no connect attempt, no retry backoff).
      expect(res.headers.get('x-sluice-attempts')).toBe('0');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('no_routable_endpoint');
    }
    const health = await fetch(`${sluice.url}/internal/health`);
    expect(health.status).toBe(503);
  });
});
