import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ReplicaTarget, WorkerSide } from '../../src/cluster/index.js';
import { validateConfig, type SluiceConfig } from '../../src/config/index.js';
import { startControl, type Control, type ControlOptions } from '../../src/runtime/index.js';
import { createLogger, ModelStats } from '../../src/telemetry/index.js';
import { ok, scriptedBackends, type Handler } from '../helpers/backends.js';
import { findSample, parseExposition } from '../helpers/exposition.js';
import { waitFor } from '../helpers/processes.js';

const backends = scriptedBackends();
let control: Control | undefined;
afterEach(async () => {
  control?.stop();
  control = undefined;
  await backends.closeAll();
});

const endpoint = { type: 'openai', health_path: '/health', check_interval: '1s' } as const;
const options = (extra: Partial<ControlOptions> = {}): ControlOptions => ({ logger: createLogger('error'), modelStats: new ModelStats(), ...extra });

async function sample(name: string, labels: Record<string, string>): Promise<number | undefined> {
  return findSample(parseExposition((await control!.metrics.render(undefined)).body), name, labels);
}

/** Answers `/metrics` with `body` (a vLLM exposition) and everything else with 200. */
const reporting =
  (body: string): Handler =>
  (req, res, text) =>
    req.url === '/metrics' ? res.end(body) : ok(req, res, text);

describe('reload of the running control plane', () => {
  it('a reload whose runtime cannot be built is refused whole: the endpoints, their settings and the DNS targets stay', async () => {
    const [a, b] = await Promise.all([backends.backend(ok), backends.backend(ok)]);
    const port = new URL(a.url).port;
    const lookups: string[] = [];
    const running = validateConfig({
      logging: { level: 'error' },
      endpoints: [
        { name: 'a', url: a.url, ...endpoint },
        { name: 'b', url: b.url, ...endpoint },
        { name: 'pool', url: `http://model.test:${port}`, ...endpoint, discover: 'dns', discover_interval: '200ms' },
      ],
    });
    const resolver = async (host: string) => {
      lookups.push(host);
      return ['127.0.0.1'];
    };
    control = await startControl(running, options({ resolver }));
    const before = control.current();
    const fleet = before.endpoints.map((ep) => ({ ep, config: ep.config }));
    expect(fleet.map(({ ep }) => ep.name)).toEqual(['a', 'b', `pool@127.0.0.1:${port}`]);

    const valid = validateConfig({
      logging: { level: 'error' },
      balancing: { strategy: 'round-robin', sticky: { key: 'ip' } },
      endpoints: [
        { name: 'a', url: a.url, ...endpoint, weight: 5 },
        { name: 'c', url: b.url, ...endpoint },
        { name: 'pool', url: `http://other.test:${port}`, ...endpoint, discover: 'dns', discover_interval: '200ms' },
      ],
    });
    // Past validation, its selector cannot be built (a configuration handed to reload() without validation).
    const unbuildable: SluiceConfig = { ...valid, balancing: { ...valid.balancing, sticky: { ...valid.balancing.sticky!, max_load_factor: 0.5 } } };
    expect(control.reload(() => unbuildable)).toBe(false);

    expect(control.current()).toBe(before);
    for (const { ep, config } of fleet) {
      expect(ep.config).toBe(config);
      expect(ep.unroutableReason).not.toBe('retired');
    }
    expect(await sample('sluice_config_reloads_total', { result: 'failure' })).toBe(1);
    // DNS still follows the running configuration's host.
    const seen = lookups.length;
    await waitFor(() => lookups.length >= seen + 2, 10_000, 'two more lookups');
    expect(new Set(lookups.slice(seen))).toEqual(new Set(['model.test']));

    // The same change, buildable, applies.
    expect(control.reload(() => valid)).toBe(true);
    // A new host has no members until it is looked up.
    expect(control.current().endpoints.map((ep) => [ep.name, ep.config.weight])).toEqual([['a', 5], ['c', 1]]);
    expect(fleet[1]!.ep.unroutableReason).toBe('retired');
    await waitFor(() => lookups.includes('other.test') && control!.current().endpoints.length === 3, 10_000, 'the new host looked up');
  }, 30_000);

  it("a name whose URL changes is a new endpoint: the old backend's load report and prefix claims are not carried over", async () => {
    const a1 = await backends.backend(reporting('vllm:num_requests_running 7\nvllm:num_requests_waiting 5\n'));
    // The new backend's load is not known while the test looks: its /metrics does not answer.
    const a2 = await backends.backend((req, res, text) => (req.url === '/metrics' ? undefined : ok(req, res, text)));
    const b = await backends.backend(ok);
    const config = (aUrl: string) =>
      validateConfig({
        logging: { level: 'error' },
        balancing: { strategy: 'prefix-aware' },
        load: { interval: '100ms' },
        endpoints: [
          { name: 'a', url: aUrl, ...endpoint, load_source: 'vllm' },
          { name: 'b', url: b.url, ...endpoint, load_source: 'none' },
        ],
      });
    control = await startControl(config(a1.url), options());
    await waitFor(async () => (await sample('sluice_endpoint_backend_requests', { endpoint: 'a', state: 'running' })) === 7, 10_000, "a's load reported");
    const index = control.current().selector.prefixIndex!;
    index.record([1, 2, 3], 'a');
    index.record([1, 2, 3], 'b');
    const old = control.current().endpoints[0]!;

    expect(control.reload(() => config(a2.url))).toBe(true);
    const moved = control.current().endpoints[0]!;
    expect(moved).not.toBe(old);
    expect(old.unroutableReason).toBe('retired');
    expect(moved.state).toBe('unknown');
    expect(await sample('sluice_endpoint_backend_requests', { endpoint: 'a', state: 'running' })).toBeUndefined();
    expect(await sample('sluice_endpoint_backend_requests', { endpoint: 'a', state: 'waiting' })).toBeUndefined();
    // The index is kept (same settings): b's claims stay, a's were the old backend's.
    expect(control.current().selector.prefixIndex).toBe(index);
    const matched = new Int32Array(2);
    index.match([1, 2, 3], ['a', 'b'], matched);
    expect([...matched]).toEqual([0, 3]);
  }, 30_000);

  it('an endpoint that goes unhealthy loses its prefix claims (its cache is gone once it restarts); the others keep theirs', async () => {
    const [a, b] = await Promise.all([backends.backend(ok), backends.backend(ok)]);
    control = await startControl(
      validateConfig({
        logging: { level: 'error' },
        balancing: { strategy: 'prefix-aware' },
        endpoints: [
          { name: 'a', url: a.url, ...endpoint, check_interval: '100ms' },
          { name: 'b', url: b.url, ...endpoint, check_interval: '100ms' },
        ],
      }),
      options(),
    );
    await waitFor(() => control!.current().endpoints.every((ep) => ep.state === 'healthy'), 10_000, 'both healthy');
    const index = control.current().selector.prefixIndex!;
    index.record([1, 2, 3], 'a');
    index.record([1, 2, 3], 'b');
    const matched = new Int32Array(2);
    index.match([1, 2, 3], ['a', 'b'], matched);
    expect([...matched]).toEqual([3, 3]);

    a.server.closeAllConnections();
    await new Promise<void>((r) => a.server.close(() => r()));
    await waitFor(() => control!.current().endpoints[0]!.state === 'unhealthy', 10_000, 'a unhealthy');
    index.match([1, 2, 3], ['a', 'b'], matched);
    expect([...matched]).toEqual([0, 3]);
  }, 30_000);

  it('times its breakers on a clock that does not step: the wall clock set back an hour does not hold a breaker open', async () => {
    const a = await backends.backend(ok);
    // Only Date is faked (timers and performance.now run as they do): what the wall clock says is the test's.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      control = await startControl(
        validateConfig({ logging: { level: 'error' }, breaker: { failure_threshold: 1, open_duration: '300ms' }, endpoints: [{ name: 'a', url: a.url, ...endpoint, check_interval: '1m' }] }),
        options(),
      );
      const ep = control.current().endpoints[0]!;
      ep.breaker.recordFailure(false);
      expect(ep.breaker.state).toBe('open');
      // An NTP step, or a VM resumed from a snapshot, sets the wall clock back an hour.
      vi.setSystemTime(Date.now() - 3_600_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(ep.breaker.state).toBe('half_open');
    } finally {
      vi.useRealTimers();
    }
  }, 30_000);

  it('a reload does not ask a kept backend for its load while a scrape of it is still on its way', async () => {
    let open = 0;
    let most = 0;
    let served = 0;
    const slow = await backends.backend((req, res, text) => {
      if (req.url !== '/metrics') return ok(req, res, text);
      most = Math.max(most, ++open);
      setTimeout(() => {
        open--;
        served++;
        res.end('vllm:num_requests_running 1\n');
      }, 300);
    });
    const config = (weight: number) =>
      validateConfig({
        logging: { level: 'error' },
        load: { interval: '100ms', timeout: '2s' },
        endpoints: [{ name: 'a', url: slow.url, ...endpoint, load_source: 'vllm', weight }],
      });
    control = await startControl(config(1), options());
    await waitFor(() => open === 1, 10_000, 'a scrape on its way');
    expect(control.reload(() => config(2))).toBe(true);
    const after = served;
    await waitFor(() => served >= after + 2, 10_000, 'two more scrapes');
    expect(most).toBe(1);
  }, 30_000);
});

describe('a cluster worker', () => {
  it("counts a reload it could not apply as a failure: the primary counted it a success, and the worker serves another configuration", async () => {
    const a = await backends.backend(ok);
    let target: ReplicaTarget | undefined;
    const worker: WorkerSide = {
      role: 'worker',
      slot: 0,
      answers: new Map(),
      passive: { connectionFailed: () => undefined, latencyFailed: () => undefined, requestFinished: () => undefined },
      attach: (t) => (target = t),
      nextCheckInMs: () => 1000,
      renderMetrics: () => Promise.reject(new Error('not used')),
      serving: () => undefined,
      keysFor: () => undefined,
      responseOwner: () => undefined,
    };
    const config = (weight: number) => validateConfig({ logging: { level: 'error' }, endpoints: [{ name: 'a', url: a.url, ...endpoint, weight }] });
    // What the worker applies before a reload takes effect (its access policy) refuses the second configuration.
    control = await startControl(config(1), options({ cluster: worker, reloading: (next) => {
      if (next.endpoints[0]!.weight === 2) throw new Error('the rate-limit store could not be opened');
    } }));
    const failures = async () => {
      const json = (await target!.metricsJson()) as Array<{ name: string; values: Array<{ labels: Record<string, string>; value: number }> }>;
      return json.find((m) => m.name === 'sluice_config_reloads_total')!.values.find((v) => v.labels.result === 'failure')?.value ?? 0;
    };
    expect(await failures()).toBe(0);
    target!.reload(config(2), new Map());
    expect(await failures()).toBe(1);
    expect(control.current().config.endpoints[0]!.weight).toBe(1);
    // A reload the worker applies counts nothing here: the primary counts it, once for the cluster.
    target!.reload(config(3), new Map());
    expect(await failures()).toBe(1);
    expect(control.current().config.endpoints[0]!.weight).toBe(3);
  });
});
