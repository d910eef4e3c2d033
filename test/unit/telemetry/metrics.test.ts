import { describe, expect, it } from 'vitest';
import { SluiceMetrics } from '../../../src/telemetry/metrics.js';

function metrics() {
  const m = new SluiceMetrics(
    {
      endpoints: () => [{ name: 'a', url: 'http://h:1', type: 'vllm', priority: 0, state: 'degraded', routable: true, circuit: 'half_open', consecutiveFailures: 2, activeConnections: 3, effectiveWeight: 0.25 }],
      modelAvailability: () => new Map([['m', 1]]),
      endpointLoads: () => [{ name: 'a', stale: false, running: 3, waiting: 7, kvUsage: 0.5, ageSeconds: 0.2 }],
      prefixIndexSize: () => 42,
      requestBodiesHeld: () => 1024,
    },
    { version: '9.9.9' },
  );
  m.initEndpoint('a');
  m.requestCompleted({ endpoint: 'a', model: 'm', code: 200, durationSeconds: 0.5, ttfbSeconds: 0.1, traceId: '0af7651916cd43dd8448eb211c80319c' });
  return m;
}

describe('SluiceMetrics rendering', () => {
  it('classic text keeps `_total` counter names even after an OpenMetrics scrape (prom-client renames in place)', async () => {
    const m = metrics();
    const om = await m.render('application/openmetrics-text; version=1.0.0');
    expect(om.body).toContain('sluice_requests_total{endpoint="a",model="m",code="200"} 1');
    expect(om.body).toMatch(/sluice_request_duration_seconds_bucket\{le="0\.64",endpoint="a",model="m",stream="false"\} 1 # \{trace_id="0af7651916cd43dd8448eb211c80319c"\} 0\.5/);
    const text = await m.render('text/plain');
    expect(text.body).toContain('# TYPE sluice_requests_total counter');
    expect(text.body).toContain('sluice_requests_total{endpoint="a",model="m",code="200"} 1');
    expect(text.body).not.toContain('trace_id');
    // And the other way round, concurrently.
    const [a, b] = await Promise.all([m.render(undefined), m.render('application/openmetrics-text')]);
    expect(a.body).toContain('# TYPE sluice_requests_total counter');
    expect(b.body).not.toContain('_total_total');
  });

  it('state sets have exactly one 1 per endpoint, read live at scrape time', async () => {
    const { body } = await metrics().render(undefined);
    expect(body).toContain('sluice_endpoint_state{endpoint="a",state="degraded"} 1');
    expect(body.match(/sluice_endpoint_state\{endpoint="a",state="\w+"\} 1/g)).toHaveLength(1);
    expect(body).toContain('sluice_endpoint_circuit_state{endpoint="a",state="half_open"} 1');
    expect(body).toContain('sluice_endpoint_effective_weight{endpoint="a"} 0.25');
    expect(body).toContain('sluice_build_info{version="9.9.9"');
  });

  it('an endpoint starts with every health transition at 0, so the first one shows in increase()', async () => {
    const { body } = await metrics().render(undefined);
    const zero = body.match(/^sluice_endpoint_state_transitions_total\{endpoint="a",from="\w+",to="\w+"\} 0$/gm) ?? [];
    // 4 targets from unknown, 3 from each of the other four states; nothing goes back to unknown.
    expect(zero).toHaveLength(16);
    expect(body).toContain('sluice_endpoint_state_transitions_total{endpoint="a",from="unknown",to="healthy"} 0');
    expect(body).toContain('sluice_endpoint_state_transitions_total{endpoint="a",from="recovering",to="healthy"} 0');
    expect(body).not.toMatch(/to="unknown"/);
    expect(body).not.toMatch(/from="(\w+)",to="\1"/);
  });

  it('exports the process metrics the "Sluice process" dashboard row reads', async () => {
    const { body } = await metrics().render(undefined);
    for (const [name, type] of [['process_cpu_seconds_total', 'counter'], ['process_resident_memory_bytes', 'gauge'], ['nodejs_eventloop_lag_p99_seconds', 'gauge'], ['nodejs_gc_duration_seconds', 'histogram'], ['nodejs_heap_size_used_bytes', 'gauge']]) {
      expect(body, name).toContain(`# TYPE ${name} ${type}`);
    }
  });

  it('counts untraced requests on resolved series, and resolves them again after the endpoint\'s series were removed', async () => {
    const m = metrics();
    const untraced = { endpoint: 'a', model: 'm', code: 200, durationSeconds: 0.1, streamed: true, ttfbSeconds: 0.05, ttft: { seconds: 0.08, streamed: true }, overheadSeconds: 0.001 };
    m.requestCompleted(untraced);
    m.requestCompleted({ ...untraced, code: 502 });
    let { body } = await m.render(undefined);
    expect(body).toContain('sluice_requests_total{endpoint="a",model="m",code="200"} 2');
    expect(body).toContain('sluice_requests_total{endpoint="a",model="m",code="502"} 1');
    // The one from metrics() was not streamed; these two were.
    expect(body).toContain('sluice_request_duration_seconds_count{endpoint="a",model="m",stream="true"} 2');
    expect(body).toContain('sluice_request_duration_seconds_count{endpoint="a",model="m",stream="false"} 1');
    expect(body).toContain('sluice_time_to_first_token_seconds_count{endpoint="a",model="m",stream="true"} 2');
    expect(body).toContain('sluice_overhead_seconds_count{endpoint="a"} 2');
    await m.removeEndpoint('a');
    ({ body } = await m.render(undefined));
    expect(body).not.toMatch(/sluice_requests_total\{endpoint="a"/);
    m.requestCompleted(untraced);
    ({ body } = await m.render(undefined));
    expect(body).toContain('sluice_requests_total{endpoint="a",model="m",code="200"} 1');
    expect(body).toContain('sluice_request_duration_seconds_count{endpoint="a",model="m",stream="true"} 1');
  });

  it('labels time to first token by whether the response was streamed, each series made by its first observation', async () => {
    const m = metrics();
    const request = { endpoint: 'a', model: 'm', code: 200, durationSeconds: 12 };
    let { body } = await m.render(undefined);
    expect(body).not.toMatch(/^sluice_time_to_first_token_seconds_count/m);
    m.requestCompleted({ ...request, ttft: { seconds: 0.3, streamed: true } });
    ({ body } = await m.render(undefined));
    expect(body).toContain('sluice_time_to_first_token_seconds_count{endpoint="a",model="m",stream="true"} 1');
    expect(body).not.toMatch(/^sluice_time_to_first_token_seconds_\w+\{[^}]*stream="false"/m);
    // A response that was not streamed has its first token at the end of its body: the whole generation.
    m.requestCompleted({ ...request, ttft: { seconds: 12, streamed: false } });
    m.requestCompleted({ ...request, ttft: { seconds: 11, streamed: false } });
    ({ body } = await m.render(undefined));
    expect(body).toContain('sluice_time_to_first_token_seconds_count{endpoint="a",model="m",stream="true"} 1');
    expect(body).toContain('sluice_time_to_first_token_seconds_count{endpoint="a",model="m",stream="false"} 2');
    expect(body).toContain('sluice_time_to_first_token_seconds_bucket{le="5",endpoint="a",model="m",stream="false"} 0');
    expect(body).toContain('sluice_time_to_first_token_seconds_bucket{le="0.5",endpoint="a",model="m",stream="true"} 1');
    // Both go with their model.
    await m.removeModel('m');
    ({ body } = await m.render(undefined));
    expect(body).not.toMatch(/^sluice_time_to_first_token_seconds_count\{/m);
  });
});
