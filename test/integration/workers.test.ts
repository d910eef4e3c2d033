import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allSamples, parseExposition, promtoolCheckMetrics } from '../helpers/exposition.js';
import { FAULT_ON_SIGUSR2, startModelServer, startSluice, stopAll, testConfig, waitFor, waitReady, type ModelServer, type SluiceProc } from '../helpers/processes.js';
import { freshRequest, type Answer } from '../helpers/fresh-request.js';

/** The configured check interval of every endpoint (testConfig's). */
const CHECK_INTERVAL_MS = 200;
const MODEL = 'llama3.2:1b';

let servers: ModelServer[];

// The grace is far longer than the drain test's generations (about a second each): what that test
// asks is that they finish, not how fast a CPU under load makes them (2 s was sometimes not enough).
const config = (port: number, backends: readonly ModelServer[]) =>
  testConfig(port, backends.map((s) => ({ id: s.id, url: s.url }))).replace(/^server:\n/m, 'server:\n  workers: 2\n  shutdown_grace: 20s\n');

/**
 * Loaded into the Sluice processes of the first suite (with `--import`, as FAULT_ON_SIGUSR2 is): a
 * process left with no SIGTERM listener after having had one sends itself a SIGTERM then and
 * there. That is the process group's copy of a stop signal landing at the worst moment: a process
 * that took its `once` listener off at the first SIGTERM and had not yet put the next one on had
 * no listener, so Node gave SIGTERM back its default action, and the copy ended the process with
 * its requests in flight (under CPU load, now and then). A process that always has one never
 * triggers it.
 */
const SIGTERM_IN_THE_GAP = `--import data:text/javascript,${encodeURIComponent(
  "process.on('removeListener', (type) => { if (type === 'SIGTERM' && process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM'); });",
)}`;

let sluice: SluiceProc;

beforeAll(async () => {
  servers = await Promise.all([startModelServer('server-1', [MODEL]), startModelServer('server-2', [MODEL])]);
  sluice = await startSluice((port) => config(port, servers), { NODE_OPTIONS: `${FAULT_ON_SIGUSR2.NODE_OPTIONS} ${SIGTERM_IN_THE_GAP}` });
  await waitReady(sluice.url, 2, [MODEL], 30_000);
  // Ready means one worker answers; the primary hands connections only to workers already listening.
  await waitFor(() => sluice.proc.jsonLines().filter((l) => l.message === 'worker serving').length >= 2, 30_000, 'both workers serving');
}, 90_000);

afterAll(() => stopAll());


const fresh = (method: string, path: string, body?: unknown): Promise<Answer> => freshRequest(`${sluice.url}${path}`, method, body);

const chat = () => fresh('POST', '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 3 });

async function metricSum(name: string, labels: Record<string, string> = {}): Promise<number> {
  const families = parseExposition((await fresh('GET', '/metrics')).body);
  return allSamples(families)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Process ids of the workers that logged a served request. */
function servingPids(): Set<number> {
  const lines = sluice.proc.jsonLines().filter((l) => l.message === 'request');
  return new Set(lines.map((l) => l.pid as number));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('server.workers: 2', () => {
  it('serves from more than one worker process and /metrics counts every worker\'s requests', async () => {
    const before = await metricSum('sluice_requests_total', { model: MODEL, code: '200' });
    const sent = 24;
    const answers: Answer[] = [];
    for (let i = 0; i < sent / 4; i++) answers.push(...(await Promise.all([chat(), chat(), chat(), chat()])));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    // Two workers served, and neither is the process that was started (the primary).
    expect(new Set(answers.map((a) => a.headers['x-sluice-worker']))).toEqual(new Set(['0', '1']));
    await waitFor(() => servingPids().size >= 2, 5000, 'access log lines of both workers');
    expect(servingPids().has(sluice.proc.child.pid!)).toBe(false);
    // Merged across workers: exactly what was sent, whichever worker answers the scrape.
    expect((await metricSum('sluice_requests_total', { model: MODEL, code: '200' })) - before).toBe(sent);
    const scrapes = await Promise.all([fresh('GET', '/metrics'), fresh('GET', '/metrics')]);
    // The same lint as a single process's output (prom-client names some of Node's gauges `_total`).
    for (const scrape of scrapes) expect(promtoolCheckMetrics(scrape.body).problems.filter((p) => !/^nodejs_active_\w+_total non-counter/.test(p))).toEqual([]);
    // Shared state is not multiplied by the number of processes.
    expect(await metricSum('sluice_endpoint_up')).toBe(2);
    expect(await metricSum('sluice_endpoint_state', { state: 'healthy' })).toBe(2);
    expect(await metricSum('sluice_build_info')).toBe(1);
  });

  it('runs health checks once, in the primary, not once per worker', async () => {
    const series = { endpoint: 'server-1' };
    const t0 = performance.now();
    const start = await metricSum('sluice_health_checks_total', series);
    await new Promise((r) => setTimeout(r, 3000));
    const end = await metricSum('sluice_health_checks_total', series);
    const spanMs = performance.now() - t0;
    // One checker waits at least the interval less its 10% jitter between checks; two would check twice as often.
    const oneChecker = spanMs / (CHECK_INTERVAL_MS * 0.9) + 2;
    expect(end - start).toBeGreaterThan(0);
    expect(end - start).toBeLessThanOrEqual(oneChecker);
  });

  it('restarts a worker that dies, and the merged counters do not go down', async () => {
    const servingLines = () => sluice.proc.jsonLines().filter((l) => l.message === 'worker serving');
    const first = servingLines().length;
    // Requests until the worker in slot 0 has served some (connections go to either worker).
    let slot0 = 0;
    for (let i = 0; i < 20 && slot0 < 2; i++) slot0 += (await Promise.all([chat(), chat()])).filter((a) => a.headers['x-sluice-worker'] === '0').length;
    expect(slot0).toBeGreaterThan(0);
    const victim = servingLines().filter((l) => l.worker === 0 && alive(l.worker_pid as number)).at(-1)!.worker_pid as number;
    // This scrape is each worker's last report before the victim dies.
    const served = { model: MODEL, code: '200' };
    const before = await metricSum('sluice_requests_total', served);
    process.kill(victim, 'SIGKILL');
    await waitFor(() => sluice.proc.jsonLines().some((l) => l.message === 'worker died; restarting it' && l.worker_pid === victim), 10_000, 'the death logged');
    await waitFor(() => servingLines().length > first, 30_000, 'a new worker serving');
    expect(servingLines().at(-1)!.worker_pid).not.toBe(victim);
    // The dead worker's requests still count: without them the total would drop, a counter reset to Prometheus.
    expect(await metricSum('sluice_requests_total', served)).toBe(before);
    // The restarted worker got the primary's state: readiness and routing work from it.
    const answers = await Promise.all([chat(), chat(), chat(), chat()]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(await metricSum('sluice_requests_total', served)).toBe(before + 4);
  });

  it('a worker that throws logs one fatal line, exits 1 and is restarted', async () => {
    const servingLines = () => sluice.proc.jsonLines().filter((l) => l.message === 'worker serving');
    const first = servingLines().length;
    const victim = servingLines().map((l) => l.worker_pid as number).filter(alive).at(-1)!;
    process.kill(victim, 'SIGUSR2');
    await waitFor(() => sluice.proc.jsonLines().some((l) => l.message === 'worker died; restarting it' && l.worker_pid === victim), 10_000, 'the death logged');
    const died = sluice.proc.jsonLines().find((l) => l.message === 'worker died; restarting it' && l.worker_pid === victim)!;
    expect(died.code).toBe(1);
    expect(sluice.proc.jsonLines().filter((l) => l.fatal === true && l.pid === victim)).toMatchObject([{ level: 'error', origin: 'uncaughtException', error: 'injected fault' }]);
    await waitFor(() => servingLines().length > first, 30_000, 'a new worker serving');
    const answers = await Promise.all([chat(), chat(), chat(), chat()]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
  });

  it('a backend that dies becomes unhealthy in every worker', async () => {
    await servers[1]!.proc.stop('SIGKILL');
    const unhealthyIn = new Set<string>();
    await waitFor(async () => {
      const answer = await fresh('GET', '/internal/status/endpoints');
      const { endpoints } = JSON.parse(answer.body) as { endpoints: Array<{ name: string; status: string; routable: boolean }> };
      const down = endpoints.find((e) => e.name === 'server-2')!;
      if (down.status === 'unhealthy' && !down.routable) unhealthyIn.add(String(answer.headers['x-sluice-worker']));
      return unhealthyIn.size === 2;
    }, 15_000, 'server-2 unhealthy in both workers');
    // The metrics say so once, and requests go to the endpoint that is left.
    expect(await metricSum('sluice_endpoint_up', { endpoint: 'server-2' })).toBe(0);
    const answers = await Promise.all([chat(), chat(), chat(), chat()]);
    expect(answers.map((a) => [a.status, a.headers['x-sluice-endpoint']])).toEqual(answers.map(() => [200, 'server-1']));
  });

  it('SIGHUP to the primary reloads every worker, counted once', async () => {
    writeFileSync(sluice.configPath, config(sluice.port, [servers[0]!]));
    sluice.proc.child.kill('SIGHUP');
    const reloadedIn = new Set<string>();
    await waitFor(async () => {
      const answer = await fresh('GET', '/internal/status/endpoints');
      const { endpoints } = JSON.parse(answer.body) as { endpoints: Array<{ name: string }> };
      if (endpoints.map((e) => e.name).join() === 'server-1') reloadedIn.add(String(answer.headers['x-sluice-worker']));
      return reloadedIn.size === 2;
    }, 15_000, 'both workers on the reloaded configuration');
    expect(await metricSum('sluice_config_reloads_total', { result: 'success' })).toBe(1);
    const reloads = sluice.proc.jsonLines().filter((l) => l.message === 'configuration reloaded');
    expect(new Set(reloads.map((l) => l.worker))).toEqual(new Set(['primary', 0, 1]));
  });

  // As systemd's default KillMode and `kill -TERM -PGID` do: each worker gets the group's SIGTERM
  // and the one the primary passes on. Read as a second signal, that cut every request at once;
  // landing while the worker had no SIGTERM listener (see SIGTERM_IN_THE_GAP), it ended the worker.
  it('SIGTERM to the whole process group drains: requests in flight finish, then every worker and the primary stop', async () => {
    const workers = [...new Set(sluice.proc.jsonLines().filter((l) => l.message === 'worker serving').map((l) => l.worker_pid as number))].filter(alive);
    expect(workers).toHaveLength(2);
    const exited = new Promise<number | null>((resolve) => sluice.proc.child.once('exit', (code) => resolve(code)));
    // About a second of generation each (the sample server's 5 ms per token), well inside the grace.
    const inFlight = Promise.all([1, 2, 3, 4].map(() => fresh('POST', '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'a long answer' }], max_tokens: 150 })));
    // Signalled only once all four are at the backend: a request not yet accepted would find the port closed.
    await waitFor(async () => (await metricSum('sluice_endpoint_active_connections')) === 4, 10_000, 'the four requests in flight');
    sluice.proc.child.kill('SIGTERM');
    for (const pid of workers) process.kill(pid, 'SIGTERM');
    const answers = await inFlight;
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(answers.map((a) => (JSON.parse(a.body) as { usage: { completion_tokens: number } }).usage.completion_tokens)).toEqual([150, 150, 150, 150]);
    expect(sluice.proc.jsonLines().some((l) => l.message === 'request cut at shutdown')).toBe(false);
    expect(await exited).toBe(0);
    for (const pid of workers) expect(alive(pid), `worker ${pid}`).toBe(false);
    expect(sluice.proc.jsonLines().filter((l) => l.message === 'worker stopped')).toHaveLength(2);
  });
});

describe('server.workers: 2, a second stop signal', () => {
  it('a second SIGTERM to the primary cuts what the workers are still draining, over IPC', async () => {
    const slow = await startModelServer('slow-1', [MODEL], { TOKEN_DELAY: '50ms' });
    const cluster = await startSluice((port) => testConfig(port, [{ id: slow.id, url: slow.url }]).replace(/^server:\n/m, 'server:\n  workers: 2\n  shutdown_grace: 30s\n'));
    await waitReady(cluster.url, 1, [MODEL], 30_000);
    await waitFor(() => cluster.proc.jsonLines().filter((l) => l.message === 'worker serving').length >= 2, 30_000, 'both workers serving');
    // 200 tokens at 50 ms: 10 s of generation, far past the test's patience, inside the 30 s grace.
    const long = freshRequest(`${cluster.url}/v1/chat/completions`, 'POST', { model: MODEL, messages: [{ role: 'user', content: 'a very long answer' }], max_tokens: 200 }).catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 500));
    const exited = new Promise<number | null>((resolve) => cluster.proc.child.once('exit', (code) => resolve(code)));
    cluster.proc.child.kill('SIGTERM');
    await waitFor(() => cluster.proc.jsonLines().some((l) => l.message === 'shutting down'), 5000, 'the drain started');
    cluster.proc.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // Cut, not drained to its end.
    expect(cluster.proc.jsonLines().some((l) => l.message === 'request cut at shutdown')).toBe(true);
    const answer = await long;
    expect(answer instanceof Error || (answer as Answer).status !== 200).toBe(true);
  });
});
