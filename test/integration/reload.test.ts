import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { findSample, parseExposition } from '../helpers/exposition.js';
import { startModelServer, startSluice, stopAll, testConfig, waitFor, waitReady, type SluiceProc } from '../helpers/processes.js';
import { chatStream, establishedTo, sleep } from '../helpers/streams.js';

afterAll(stopAll);

async function reloads(sluice: SluiceProc): Promise<{ ok: number | undefined; bad: number | undefined }> {
  const exp = parseExposition(await (await fetch(`${sluice.url}/metrics`)).text());
  return { ok: findSample(exp, 'sluice_config_reloads_total', { result: 'success' }), bad: findSample(exp, 'sluice_config_reloads_total', { result: 'failure' }) };
}

async function reload(sluice: SluiceProc, yaml: string, expectOk: number): Promise<void> {
  writeFileSync(sluice.configPath, yaml);
  sluice.proc.child.kill('SIGHUP');
  await waitFor(async () => (await reloads(sluice)).ok === expectOk, 10_000, `reload ${expectOk} counted`);
}

interface EndpointView {
  name: string;
  status: string;
  active_connections: number;
  weight: number;
  max_connections: number | null;
  models: string[];
}

async function endpointView(sluice: SluiceProc, name: string): Promise<EndpointView> {
  const body = (await (await fetch(`${sluice.url}/internal/status/endpoints`)).json()) as { endpoints: EndpointView[] };
  return body.endpoints.find((e) => e.name === name)!;
}

const predict = (url: string) => fetch(`${url}/predict`, { method: 'POST', body: '{"text":"ok"}', headers: { 'content-type': 'application/json' } });

describe('configuration reload (SIGHUP)', () => {
  it('a SIGHUP while Sluice is still starting is applied once it is up, and does not end the process', async () => {
    const [a, b] = await Promise.all([startModelServer('a', ['m:1']), startModelServer('b', ['m:1'])]);
    const sluice = await startSluice((p) => testConfig(p, [{ id: 'a', url: a.url }]), {}, false);
    // The file a config reloader would have just written, announced as soon as the process
    // catches SIGHUP (before that, Node itself is still booting): Sluice is still loading then.
    writeFileSync(sluice.configPath, testConfig(sluice.port, [{ id: 'a', url: a.url }, { id: 'b', url: b.url }]));
    const catchesSighup = () => (BigInt(`0x${/SigCgt:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${sluice.proc.child.pid}/status`, 'utf8'))![1]}`) & 1n) === 1n;
    await waitFor(catchesSighup, 10_000, 'a SIGHUP handler');
    expect(await fetch(`${sluice.url}/internal/health`).catch(() => 'not listening yet')).toBe('not listening yet');
    sluice.proc.child.kill('SIGHUP');
    await waitFor(async () => (await reloads(sluice)).ok === 1, 30_000, 'the reload applied once started');
    expect(sluice.proc.child.exitCode).toBeNull();
    expect((await endpointView(sluice, 'b')).name).toBe('b');
  });

  it('a bad file is refused and counted; a good one adds endpoints without resetting the others', async () => {
    const [a, b] = await Promise.all([startModelServer('a', ['m:1']), startModelServer('b', ['m:1'])]);
    let port = 0;
    const sluice = await startSluice((p) => ((port = p), testConfig(p, [{ id: 'a', url: a.url }])));
    await waitFor(async () => ((await (await fetch(`${sluice.url}/internal/health`)).json()) as { status: string }).status === 'healthy', 10_000, 'a healthy');
    expect(await reloads(sluice)).toEqual({ ok: 0, bad: 0 });

    writeFileSync(sluice.configPath, testConfig(port, [{ id: 'a', url: a.url, weight: 0 }]));
    sluice.proc.child.kill('SIGHUP');
    await waitFor(async () => (await reloads(sluice)).bad === 1, 5000, 'failed reload counted');
    expect(sluice.proc.output()).toContain('endpoints[0].weight: expected a positive integer');
    expect((await predict(sluice.url)).status).toBe(200);

    const transitionsBefore = sluice.proc.jsonLines().filter((l) => l.message === 'endpoint state changed' && l.endpoint === 'a').length;
    await reload(sluice, testConfig(port, [{ id: 'a', url: a.url }, { id: 'b', url: b.url }], 'balancing:\n  strategy: least-connections'), 1);
    await waitFor(async () => ((await (await fetch(`${sluice.url}/internal/health`)).json()) as { endpoints: { healthy: number } }).endpoints.healthy === 2, 10_000, 'b healthy');
    // `a` kept its state: it never went back through unknown.
    expect(sluice.proc.jsonLines().filter((l) => l.message === 'endpoint state changed' && l.endpoint === 'a').length).toBe(transitionsBefore);
    const status = (await (await fetch(`${sluice.url}/internal/status`)).json()) as { config: { balancing: { strategy: string } } };
    expect(status.config.balancing.strategy).toBe('least-connections');
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await predict(sluice.url)).headers.get('x-sluice-endpoint')!);
    expect([...seen].sort()).toEqual(['a', 'b']);
  }, 150_000);

  it('an idle endpoint removed by a reload leaves no series behind on /metrics', async () => {
    const [a, b] = await Promise.all([startModelServer('a', ['m:1']), startModelServer('b', ['m:1'])]);
    let port = 0;
    const sluice = await startSluice((p) => ((port = p), testConfig(p, [{ id: 'a', url: a.url }, { id: 'b', url: b.url }])));
    await waitReady(sluice.url, 2, ['m:1']);
    const seriesOf = async (name: string) => (await (await fetch(`${sluice.url}/metrics`)).text()).split('\n').filter((l) => l.includes(`endpoint="${name}"`)).length;
    expect(await seriesOf('b')).toBeGreaterThan(0);

    await reload(sluice, testConfig(port, [{ id: 'a', url: a.url }]), 1);
    await waitFor(async () => (await seriesOf('b')) === 0, 5000, "b's series deleted");
    expect(await seriesOf('a')).toBeGreaterThan(0);
  }, 60_000);

  it('new health, breaker and endpoint settings apply in place: state, models and in-flight count stay, max_connections holds', async () => {
    const a = await startModelServer('a', ['m:1'], { TOKEN_DELAY: '50ms' });
    let port = 0;
    const sluice = await startSluice((p) => ((port = p), testConfig(p, [{ id: 'a', url: a.url, max_connections: 2 }])));
    await waitReady(sluice.url, 1, ['m:1']);
    const streams = [chatStream(sluice.url, 400), chatStream(sluice.url, 400)];
    await Promise.all(streams.map((s) => s.opened));
    await waitFor(async () => (await endpointView(sluice, 'a')).active_connections === 2, 5000, 'two streams in flight');

    const changed = testConfig(port, [{ id: 'a', url: a.url, max_connections: 2, weight: 4 }], 'breaker:\n  failure_threshold: 7\n  open_duration: 10s').replace('health:\n  slow_start: 0s', 'health:\n  slow_start: 0s\n  rise: 4\n  fall: 5\n  degraded_latency: 2s');
    await reload(sluice, changed, 1);
    const view = await endpointView(sluice, 'a');
    expect(view).toMatchObject({ status: 'healthy', active_connections: 2, weight: 4, max_connections: 2, models: ['m:1'] });
    // The limit counts the streams that started before the reload.
    const third = await predict(sluice.url);
    expect(third.status).toBe(503);
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe('endpoints_busy');
    const states = sluice.proc.jsonLines().filter((l) => l.message === 'endpoint state changed' && l.endpoint === 'a');
    expect(states.map((l) => l.from)).not.toContain('healthy');
    for (const s of streams) expect(await s.done).toMatchObject({ status: 200, complete: true });
    expect((await endpointView(sluice, 'a')).active_connections).toBe(0);
  }, 150_000);

  it('12 reloads of proxy.* under steady traffic keep the backend socket count flat and add no listeners', async () => {
    const a = await startModelServer('a', ['m:1'], { TOKEN_DELAY: '1ms' });
    let port = 0;
    const sluice = await startSluice((p) => ((port = p), testConfig(p, [{ id: 'a', url: a.url }])));
    await waitReady(sluice.url, 1, ['m:1']);
    let stop = false;
    let failures = 0;
    const loop = async () => {
      while (!stop) {
        try {
          if ((await predict(sluice.url)).status !== 200) failures++;
        } catch {
          failures++;
        }
      }
    };
    const loops = Array.from({ length: 4 }, loop);
    await sleep(1000);
    const before = establishedTo(a.port);
    for (let i = 1; i <= 12; i++) {
      await reload(sluice, testConfig(port, [{ id: 'a', url: a.url }], `proxy:\n  connect_timeout: ${i % 2 === 0 ? 5 : 6}s\n  first_byte_timeout: ${100 + i}s`), i);
      await sleep(150);
    }
    const after = establishedTo(a.port);
    stop = true;
    await Promise.all(loops);
    expect(failures).toBe(0);
    // Four request loops and the health checks: a handful of sockets, the same before and after.
    expect(before).toBeGreaterThan(0);
    expect(after).toBeLessThanOrEqual(before + 3);
    expect(sluice.proc.output()).not.toContain('MaxListenersExceededWarning');
  }, 150_000);
});

describe('a reload that points an endpoint at another backend (a new port) serving the same model', () => {
  // The new backend's models are not known until its list answers: every request for the model
  // meanwhile got 503 model_lists_pending, though the name had served it a moment before. The
  // catalog now waits for that list, as at start, and readiness stays up.
  it('holds requests for the model until the new backend has listed, then routes them there; none fails', async () => {
    const old = await startModelServer('old', ['m:1']);
    const next = await startModelServer('new', ['m:1'], { MODEL_LIST_DELAY: '1s' });
    const sluice = await startSluice((p) => testConfig(p, [{ id: 'a', url: old.url }]));
    await waitReady(sluice.url, 1, ['m:1']);

    writeFileSync(sluice.configPath, testConfig(sluice.port, [{ id: 'a', url: next.url }]));
    sluice.proc.child.kill('SIGHUP');
    await waitFor(() => sluice.proc.jsonLines().some((l) => l.message === 'configuration reloaded'), 10_000, 'the reload applied');
    const chat = () => fetch(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm:1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }) });
    const [answers, ready] = await Promise.all([Promise.all([1, 2, 3].map(() => chat())), fetch(`${sluice.url}/internal/health`)]);
    expect(ready.status).toBe(200);
    expect(answers.map((r) => [r.status, r.headers.get('x-sluice-endpoint'), r.headers.get('x-server-id')])).toEqual(answers.map(() => [200, 'a', 'new']));
  }, 60_000);
});
