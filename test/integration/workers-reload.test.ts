import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { allSamples, parseExposition } from '../helpers/exposition.js';
import { freshRequest } from '../helpers/fresh-request.js';
import { freePort, startModelServer, startSluice, stopAll, testConfig, waitFor, waitReady, type SluiceProc } from '../helpers/processes.js';
import { chatStream, sleep } from '../helpers/streams.js';

const MODEL = 'm:1';

afterAll(() => stopAll());

/**
 * Endpoint `a` on `url`, two workers; checks far apart, and patient enough that a CPU busy with
 * other tests does not fail one, so that only the workers' reports can change its health in the
 * test's time.
 */
const config = (port: number, url: string) =>
  testConfig(port, [{ id: 'a', url }])
    .replace(/^server:\n/m, 'server:\n  workers: 2\n  shutdown_grace: 1s\n')
    .replace('check_interval: 200ms', 'check_interval: 10s')
    .replace('check_timeout: 500ms', 'check_timeout: 5s');

async function activeConnections(sluice: SluiceProc): Promise<number> {
  const families = parseExposition((await freshRequest(`${sluice.url}/metrics`)).body);
  return allSamples(families).filter((s) => s.name === 'sluice_endpoint_active_connections').reduce((sum, s) => sum + s.value, 0);
}

interface EndpointStatus {
  readonly name: string;
  readonly url: string;
  readonly status: string;
  readonly routable: boolean;
}

/** Endpoint `a` as each worker sees it, asked on fresh connections until both have answered. */
async function inEveryWorker(sluice: SluiceProc): Promise<Map<string, EndpointStatus>> {
  const seen = new Map<string, EndpointStatus>();
  await waitFor(async () => {
    const answer = await freshRequest(`${sluice.url}/internal/status/endpoints`);
    const { endpoints } = JSON.parse(answer.body) as { endpoints: EndpointStatus[] };
    seen.set(String(answer.headers['x-sluice-worker']), endpoints.find((e) => e.name === 'a')!);
    return seen.size === 2;
  }, 10_000, 'an answer from both workers');
  return seen;
}


/** A sample model server, a two-worker Sluice in front of it, and both workers serving. */
async function servingCluster() {
  const backend = await startModelServer('a', [MODEL]);
  const sluice = await startSluice((port) => config(port, backend.url));
  await waitReady(sluice.url, 1, [MODEL], 30_000);
  const serving = () => sluice.proc.jsonLines().filter((l) => l.message === 'worker serving');
  await waitFor(() => serving().length >= 2, 30_000, 'both workers serving');
  return { backend, sluice, serving };
}
describe('server.workers: 2, a reload that points an endpoint at another backend', () => {
  // The workers' old endpoint `a` drains its streams after the reload; when the old backend died
  // under them, their connection failures went to the primary's `a`, the new backend, and took it
  // out of every worker (503 no_routable_endpoint) until its next check.
  it('the old backend\'s failures under the draining streams do not mark the new backend unhealthy', async () => {
    const old = await startModelServer('old', [MODEL], { TOKEN_DELAY: '100ms' });
    const next = await startModelServer('new', [MODEL]);
    const sluice = await startSluice((port) => config(port, old.url));
    await waitReady(sluice.url, 1, [MODEL], 30_000);
    await waitFor(() => sluice.proc.jsonLines().filter((l) => l.message === 'worker serving').length >= 2, 30_000, 'both workers serving');

    // Streams of 30 s at the old backend, on connections of their own (spread over both workers).
    const streams = Array.from({ length: 6 }, () => chatStream(sluice.url, 300, MODEL));
    await Promise.all(streams.map((s) => s.opened));
    await waitFor(async () => (await activeConnections(sluice)) === 6, 10_000, 'the six streams in flight');

    writeFileSync(sluice.configPath, config(sluice.port, next.url));
    sluice.proc.child.kill('SIGHUP');
    await waitFor(async () => [...(await inEveryWorker(sluice)).values()].every((a) => a.url === next.url && a.status === 'healthy'), 15_000, 'both workers on the new backend, healthy');
    const reloadedAt = sluice.proc.jsonLines().length;

    await old.proc.stop('SIGKILL');
    const results = await Promise.all(streams.map((s) => s.done));
    expect(results.filter((r) => r.complete)).toEqual([]);
    // Past the workers' 250 ms flush of request outcomes.
    await sleep(1000);

    for (const [worker, a] of await inEveryWorker(sluice)) expect({ worker, status: a.status, routable: a.routable }).toEqual({ worker, status: 'healthy', routable: true });
    expect(sluice.proc.jsonLines().slice(reloadedAt).filter((l) => l.message === 'endpoint state changed')).toEqual([]);
    const answers = await Promise.all([1, 2, 3, 4].map(() => freshRequest(`${sluice.url}/v1/chat/completions`, 'POST', { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 })));
    expect(answers.map((a) => [a.status, a.headers['x-sluice-endpoint']])).toEqual(answers.map(() => [200, 'a']));
  }, 90_000);
});

describe('server.workers: 2, a SIGHUP while the workers drain for shutdown', () => {
  // The primary's control plane stopped only once the workers had exited: a SIGHUP meanwhile was
  // applied and counted as a successful reload.
  it('is ignored by the primary and said so, as by a single process', async () => {
    const slow = await startModelServer('slow', [MODEL], { TOKEN_DELAY: '50ms' });
    const yaml = (port: number, weight: number) => testConfig(port, [{ id: 'a', url: slow.url, weight }]).replace(/^server:\n/m, 'server:\n  workers: 2\n  shutdown_grace: 30s\n');
    const sluice = await startSluice((port) => yaml(port, 1));
    await waitReady(sluice.url, 1, [MODEL], 30_000);
    await waitFor(() => sluice.proc.jsonLines().filter((l) => l.message === 'worker serving').length >= 2, 30_000, 'both workers serving');
    // 10 s of generation, inside the 30 s grace: the workers drain while the test goes on.
    const stream = chatStream(sluice.url, 200, MODEL);
    await stream.opened;
    const exited = new Promise<number | null>((resolve) => sluice.proc.child.once('exit', (code) => resolve(code)));
    sluice.proc.child.kill('SIGTERM');
    await waitFor(() => sluice.proc.jsonLines().some((l) => l.message === 'shutting down'), 5000, 'the drain started');

    writeFileSync(sluice.configPath, yaml(sluice.port, 5));
    sluice.proc.child.kill('SIGHUP');
    await waitFor(() => sluice.proc.jsonLines().some((l) => l.message === 'configuration reload ignored: shutting down' && l.worker === 'primary'), 5000, 'the reload refused');
    expect(sluice.proc.jsonLines().filter((l) => l.message === 'configuration reloaded')).toEqual([]);

    // A second SIGTERM cuts what is left.
    sluice.proc.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect((await stream.done).complete).toBe(false);
  }, 90_000);
});

describe('server.workers: 2, a reload that changes server.port, then a worker that dies', () => {
  // server.* takes effect after a restart, and the workers running kept the old port; but the
  // primary started a dead worker's replacement with the reloaded configuration, and it listened
  // on the new port: Sluice served on both, the new one from that worker alone (or, with the new
  // port taken, the replacement could not bind and was restarted forever, its slot lost).
  it('restarts the worker on the port the cluster started with, as the others', async () => {
    const { backend, sluice, serving } = await servingCluster();

    const newPort = await freePort();
    writeFileSync(sluice.configPath, config(newPort, backend.url));
    sluice.proc.child.kill('SIGHUP');
    await waitFor(() => sluice.proc.jsonLines().some((l) => l.message === 'configuration reloaded' && l.worker === 'primary'), 10_000, 'the reload applied');
    expect(sluice.proc.jsonLines().some((l) => l.message === 'server.* changes take effect only after a restart')).toBe(true);

    process.kill(Number(serving()[0]!.worker_pid), 'SIGKILL');
    await waitFor(() => serving().length >= 3, 30_000, 'the dead worker restarted');

    await expect(freshRequest(`http://127.0.0.1:${newPort}/internal/health`)).rejects.toThrow(/ECONNREFUSED/);
    // Both slots answer on the port Sluice started with, the restarted one included.
    await inEveryWorker(sluice);
  }, 90_000);
});

describe('server.workers: 2, a reload that points an endpoint at another backend serving the same model', () => {
  // As in a single process (reload.test.ts): each worker's catalog waits for the primary's news of
  // the new backend's list instead of answering 503 model_lists_pending meanwhile.
  it('every worker holds requests until the new backend has listed; none fails', async () => {
    const old = await startModelServer('old', [MODEL]);
    const next = await startModelServer('new', [MODEL], { MODEL_LIST_DELAY: '1s' });
    const sluice = await startSluice((port) => config(port, old.url));
    await waitReady(sluice.url, 1, [MODEL], 30_000);
    await waitFor(() => sluice.proc.jsonLines().filter((l) => l.message === 'worker serving').length >= 2, 30_000, 'both workers serving');

    writeFileSync(sluice.configPath, config(sluice.port, next.url));
    sluice.proc.child.kill('SIGHUP');
    await waitFor(() => sluice.proc.jsonLines().filter((l) => l.message === 'configuration reloaded').length >= 3, 10_000, 'the primary and both workers reloaded');
    const answers = await Promise.all(Array.from({ length: 6 }, () => freshRequest(`${sluice.url}/v1/chat/completions`, 'POST', { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 })));
    expect(answers.map((a) => [a.status, a.headers['x-server-id']])).toEqual(answers.map(() => [200, 'new']));
    expect(new Set(answers.map((a) => a.headers['x-sluice-worker'])).size).toBe(2);
  }, 90_000);
});

describe('server.workers: 2, a worker restarted', () => {
  // A restarted worker counted uptime_seconds from its own start: /internal/health said 1 from it
  // and 11 from the other, as if Sluice had restarted, depending on which worker a probe reached.
  it('reports the cluster\'s uptime in /internal/health, as the other worker does', async () => {
    const { sluice, serving } = await servingCluster();
    await sleep(3000);
    process.kill(Number(serving()[0]!.worker_pid), 'SIGKILL');
    await waitFor(() => serving().length >= 3, 30_000, 'the dead worker restarted');

    const uptimes = new Map<string, number>();
    await waitFor(async () => {
      const answer = await freshRequest(`${sluice.url}/internal/health`);
      uptimes.set(String(answer.headers['x-sluice-worker']), (JSON.parse(answer.body) as { uptime_seconds: number }).uptime_seconds);
      return uptimes.size === 2;
    }, 10_000, 'an answer from both workers');
    const [a, b] = [...uptimes.values()];
    expect(Math.min(a!, b!)).toBeGreaterThanOrEqual(3);
    expect(Math.abs(a! - b!)).toBeLessThanOrEqual(1);
  }, 90_000);
});

describe('server.workers: 2, a reload during the start-up warm-up', () => {
  // Requests that arrived before the catalog was primed waited on the worker's catalog of that
  // moment; a reload replaced it, and the replaced one was no longer told the primary's news, so
  // they waited out discovery.timeout (15 s here) although the fleet had listed in 3 s.
  it('requests waiting for the first model lists are routed once the fleet has listed, not at discovery.timeout', async () => {
    const slow = await startModelServer('slow', [MODEL], { LOAD_TIME: '0ms', MODEL_LIST_DELAY: '3s' });
    const yaml = (port: number, strategy: string) => `${config(port, slow.url)}\ndiscovery:\n  timeout: 15s\nbalancing:\n  strategy: ${strategy}\n`;
    const sluice = await startSluice((port) => yaml(port, 'round-robin'), {}, false);
    await waitFor(() => sluice.proc.jsonLines().filter((l) => l.message === 'worker serving').length >= 2, 30_000, 'both workers serving');
    expect(sluice.proc.jsonLines().some((l) => l.message === 'model catalog primed')).toBe(false);

    const sent = performance.now();
    const answers = Array.from({ length: 4 }, () => freshRequest(`${sluice.url}/v1/chat/completions`, 'POST', { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }));
    await sleep(100);
    writeFileSync(sluice.configPath, yaml(sluice.port, 'least-connections'));
    sluice.proc.child.kill('SIGHUP');
    const done = await Promise.all(answers);
    expect(done.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(new Set(done.map((a) => a.headers['x-sluice-worker'])).size).toBe(2);
    expect(performance.now() - sent).toBeLessThan(10_000);
  }, 90_000);
});

describe('server.workers: 2, auth.api_keys from a key file that is removed after start', () => {
  // Each worker read the key files itself: once the file was gone, a worker that died could not
  // start again (ENOENT, exit 1) and was restarted every 10 s forever, its slot lost. The primary
  // now reads the keys with the configuration and sends them to every worker.
  it('a worker that dies is restarted with the keys in force and serves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-keys-'));
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, 'secret-1\n');
    try {
      const backend = await startModelServer('a', [MODEL]);
      // Started once /internal/health answers 200 (the model lists need a key).
      const sluice = await startSluice((port) => `${config(port, backend.url)}\nauth:\n  api_keys:\n    - name: team\n      key_file: ${keyFile}\n`);
      const serving = () => sluice.proc.jsonLines().filter((l) => l.message === 'worker serving');
      await waitFor(() => serving().length >= 2, 30_000, 'both workers serving');

      rmSync(keyFile);
      process.kill(Number(serving()[0]!.worker_pid), 'SIGKILL');
      await waitFor(() => serving().length >= 3 || sluice.proc.jsonLines().filter((l) => l.message === 'worker died; restarting it').length >= 2, 30_000, 'the dead worker restarted');
      expect(sluice.proc.jsonLines().filter((l) => l.message === 'worker died; restarting it')).toHaveLength(1);

      const ask = (key?: string) =>
        new Promise<{ status: number; worker: string }>((resolve, reject) => {
          const req = http.get(`${sluice.url}/v1/models`, { agent: false, headers: key ? { authorization: `Bearer ${key}` } : {} }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, worker: String(res.headers['x-sluice-worker']) }));
          });
          req.on('error', reject);
        });
      // Each worker, the restarted one included, asked with the key and without it (three at a
      // time, so that the primary's round robin does not give one worker only one kind).
      const seen = new Map<string, number>();
      await waitFor(async () => {
        for (const key of ['secret-1', undefined, undefined]) {
          const a = await ask(key);
          seen.set(`${a.worker} ${key ? 'key' : 'none'}`, a.status);
        }
        return seen.size === 4;
      }, 10_000, 'answers from both workers, with and without the key');
      expect(Object.fromEntries([...seen].sort())).toEqual({ '0 key': 200, '0 none': 401, '1 key': 200, '1 none': 401 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe('server.workers: 2, a worker stopped on its own with SIGTERM', () => {
  // A worker that drains and exits left in the primary only what it had counted at the last
  // scrape: the requests it served since were gone from the merged counters for good.
  it('hands its final counts to the primary: the merged total keeps every request it served', async () => {
    const { sluice, serving } = await servingCluster();
    const served = async () => {
      const families = parseExposition((await freshRequest(`${sluice.url}/metrics`)).body);
      return allSamples(families).filter((x) => x.name === 'sluice_requests_total' && x.labels.model === MODEL && x.labels.code === '200').reduce((sum, x) => sum + x.value, 0);
    };
    const chats = async (n: number) => {
      const answers = await Promise.all(Array.from({ length: n }, () => freshRequest(`${sluice.url}/v1/chat/completions`, 'POST', { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 })));
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
      return answers.filter((a) => a.headers['x-sluice-worker'] === '0').length;
    };
    await chats(4);
    expect(await served()).toBe(4);
    // Served after that scrape, some of them by worker 0, which then stops.
    expect(await chats(6)).toBeGreaterThan(0);
    const victim = Number(serving()[0]!.worker_pid);
    process.kill(victim, 'SIGTERM');
    await waitFor(() => sluice.proc.jsonLines().some((l) => l.message === 'worker exited; restarting it' && l.worker_pid === victim), 10_000, 'the worker exited');
    // A clean exit after draining is no crash: a warning, not an error, and no backoff.
    expect(sluice.proc.jsonLines().find((l) => l.message === 'worker exited; restarting it')).toMatchObject({ level: 'warn', code: 0, restart_in_ms: 100 });
    expect(sluice.proc.jsonLines().some((l) => l.message === 'worker died; restarting it')).toBe(false);
    await waitFor(() => serving().length >= 3, 30_000, 'its slot restarted');
    expect(await served()).toBe(10);
  }, 90_000);
});
