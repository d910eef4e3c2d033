import { describe, expect, it } from 'vitest';
import { endpointsNamed, forgetEndpoints, mergeMetrics, retire } from '../../../src/cluster/metrics-merge.js';
import { SluiceMetrics, type EndpointSnapshot } from '../../../src/telemetry/metrics.js';

/** One process's metrics over a shared view of endpoint `a` (state decided by the primary). */
function processMetrics(label: string, own: Partial<EndpointSnapshot>) {
  const m = new SluiceMetrics(
    {
      endpoints: () => [{ name: 'a', url: 'http://h:1', type: 'vllm', priority: 0, state: 'healthy', routable: true, consecutiveFailures: 0, activeConnections: 0, effectiveWeight: 1, ...own }],
      modelAvailability: () => new Map([['m', 1]]),
      endpointLoads: () => [{ name: 'a', stale: false, running: 3, waiting: 1 }],
      prefixIndexSize: () => 0,
      requestBodiesHeld: () => 0,
    },
    { version: '9.9.9', processLabel: label },
  );
  m.initEndpoint('a');
  return m;
}

const request = { endpoint: 'a', model: 'm', code: 200, durationSeconds: 0.5 };

describe('merging a cluster\'s metrics', () => {
  it('sums events, keeps shared state once, sums connections and takes the worst breaker state', async () => {
    const primary = processMetrics('primary', {});
    const w0 = processMetrics('0', { circuit: 'closed', activeConnections: 2 });
    const w1 = processMetrics('1', { circuit: 'open', activeConnections: 3 });
    for (let i = 0; i < 3; i++) w0.requestCompleted(request);
    for (let i = 0; i < 2; i++) w1.requestCompleted(request);
    for (let i = 0; i < 4; i++) primary.healthCheck('a', 'success', 0.01);
    // A scrape of one worker in OpenMetrics before the merge must not change the merged names.
    await w0.render('application/openmetrics-text');
    const parts = [await primary.json(), await w0.json(), await w1.json()];

    const { body, contentType } = await mergeMetrics(parts, false);
    expect(contentType).toMatch(/^text\/plain/);
    expect(body).toContain('sluice_requests_total{endpoint="a",model="m",code="200"} 5');
    expect(body).toContain('sluice_request_duration_seconds_count{endpoint="a",model="m",stream="false"} 5');
    expect(body).toContain('sluice_health_checks_total{endpoint="a",result="success"} 4');
    expect(body).toContain('sluice_endpoint_state{endpoint="a",state="healthy"} 1');
    expect(body).toContain('sluice_endpoint_up{endpoint="a"} 1');
    expect(body).toContain('sluice_endpoint_info{endpoint="a",url="http://h:1",type="vllm",priority="0"} 1');
    expect(body).toContain('sluice_endpoint_backend_requests{endpoint="a",state="running"} 3');
    expect(body).toContain('sluice_models_available_endpoints{model="m"} 1');
    expect(body).toContain('sluice_endpoint_active_connections{endpoint="a"} 5');
    expect(body).toContain('sluice_endpoint_circuit_state{endpoint="a",state="open"} 1');
    expect(body).toContain('sluice_endpoint_circuit_state{endpoint="a",state="closed"} 1');
    expect(body).toContain('sluice_build_info{version="9.9.9"');
    expect(body.match(/^sluice_build_info/gm)).toHaveLength(1);
    // Node's own metrics: one series per process.
    for (const label of ['primary', '0', '1']) expect(body).toMatch(new RegExp(`^process_cpu_user_seconds_total\\{worker="${label}"\\} `, 'm'));
    expect(body).not.toContain('_total_total');

    const om = await mergeMetrics(parts, true);
    expect(om.contentType).toMatch(/^application\/openmetrics-text/);
    expect(om.body).toContain('# TYPE sluice_requests counter');
    expect(om.body).toContain('sluice_requests_total{endpoint="a",model="m",code="200"} 5');
    expect(om.body).not.toContain('_total_total');
    expect(om.body.endsWith('# EOF\n')).toBe(true);
  });

  // prom-client gives process_start_time_seconds the `omit` aggregator, and its merge dropped it.
  it('keeps each process\'s process_start_time_seconds, one series per process, in both formats', async () => {
    const parts = [await processMetrics('primary', {}).json(), await processMetrics('0', {}).json(), await processMetrics('1', {}).json()];
    for (const openMetrics of [false, true]) {
      const { body } = await mergeMetrics(parts, openMetrics);
      expect(body).toContain('# TYPE process_start_time_seconds gauge');
      for (const label of ['primary', '0', '1']) expect(body.match(new RegExp(`^process_start_time_seconds\\{worker="${label}"\\} \\d+`, 'gm'))).toHaveLength(1);
    }
  });

  it('keeps a dead worker\'s counters and histograms, so that totals never go down; not its gauges, nor its per-process series', async () => {
    const primary = processMetrics('primary', {});
    const w0 = processMetrics('0', { activeConnections: 2 });
    const w1 = processMetrics('1', { activeConnections: 3 });
    for (let i = 0; i < 3; i++) w0.requestCompleted(request);
    for (let i = 0; i < 2; i++) w1.requestCompleted(request);
    // Worker 0 reported in OpenMetrics last (its counter named without `_total`), then died.
    await w0.render('application/openmetrics-text');
    let retired = await retire([], await w0.json());
    // Its slot's new worker starts from zero and serves one request; then it dies too.
    const w0b = processMetrics('0', { activeConnections: 1 });
    w0b.requestCompleted(request);
    const withNewWorker = (await mergeMetrics([await primary.json(), await w0b.json(), await w1.json(), retired], false)).body;
    expect(withNewWorker).toContain('sluice_requests_total{endpoint="a",model="m",code="200"} 6');
    expect(withNewWorker).toContain('sluice_request_duration_seconds_count{endpoint="a",model="m",stream="false"} 6');
    expect(withNewWorker).toContain('sluice_request_duration_seconds_bucket{le="+Inf",endpoint="a",model="m",stream="false"} 6');
    // Gauges are the live workers' only: 1 + 3 connections, not the dead worker's 2 as well.
    expect(withNewWorker).toContain('sluice_endpoint_active_connections{endpoint="a"} 4');
    // Node's own series of slot 0 are the live process's, one series, not added to the dead one's.
    expect(withNewWorker.match(/^process_cpu_user_seconds_total\{worker="0"\} /gm)).toHaveLength(1);

    retired = await retire(retired, await w0b.json());
    const afterBoth = (await mergeMetrics([await primary.json(), await w1.json(), retired], true)).body;
    expect(afterBoth).toContain('sluice_requests_total{endpoint="a",model="m",code="200"} 6');
    expect(afterBoth).toContain('sluice_endpoint_active_connections{endpoint="a"} 3');
    expect(afterBoth).not.toMatch(/worker="0"/);
    expect(afterBoth).not.toContain('_total_total');
  });

  // A dead worker's counts of an endpoint that later left the fleet stayed in every merge for good.
  it('forgets a dead worker\'s series of an endpoint once no live process has any, as a single process drops them when it has drained', async () => {
    const primary = processMetrics('primary', {});
    const w0 = processMetrics('0', {});
    const w1 = processMetrics('1', {});
    for (const w of [w0, w0, w1]) {
      w.requestCompleted(request);
      w.requestCompleted({ ...request, endpoint: 'b' });
    }
    const retired = await retire([], await w0.json());
    const merge = async (kept: unknown[]) => (await mergeMetrics([await primary.json(), await w1.json(), kept], false)).body;
    const fleet = ['a'];

    // b has left the fleet, but worker 1 is still draining it: its series go on, the dead worker's share included.
    let live = new Set([...fleet, ...endpointsNamed([await primary.json(), await w1.json()])]);
    expect(live).toEqual(new Set(['a', 'b']));
    expect(await merge(forgetEndpoints(retired, live))).toContain('sluice_requests_total{endpoint="b",model="m",code="200"} 3');

    // Drained in worker 1 too: b is gone from the merge, as from a single process.
    await w1.removeEndpoint('b');
    live = new Set([...fleet, ...endpointsNamed([await primary.json(), await w1.json()])]);
    expect(live).toEqual(new Set(['a']));
    const body = await merge(forgetEndpoints(retired, live));
    expect(body).not.toContain('endpoint="b"');
    // The endpoints that stay keep every count.
    expect(body).toContain('sluice_requests_total{endpoint="a",model="m",code="200"} 3');
    expect(body).toContain('sluice_request_duration_seconds_count{endpoint="a",model="m",stream="false"} 3');
  });
});
