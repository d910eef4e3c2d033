import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { SLUICE_METRICS } from '../stack/metric-contract.js';
import { allSamples, findSample, parseExposition, promtoolCheckMetrics, type ExposedFamily } from '../helpers/exposition.js';
import { startOtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { postFault, startModelServer, startSluice, stopAll, testConfig, waitFor, type ModelServer, type SluiceProc } from '../helpers/processes.js';

let servers: ModelServer[];
let sluice: SluiceProc;
let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;

beforeAll(async () => {
  otlp = await startOtlpReceiver();
  const otelEnv = {
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_TRACES_SAMPLER: 'always_on',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
  };
  servers = await Promise.all([
    startModelServer('server-1', ['llama3.2:1b', 'qwen2.5:0.5b'], { ...otelEnv, OTEL_SERVICE_NAME: 'model-server-1' }),
    startModelServer('server-2', ['llama3.2:1b'], otelEnv),
    startModelServer('server-3', ['llama3.2:1b'], otelEnv),
  ]);
  // server-2's checks go to /admin/fault, which faults never affect: only the request path sees its errors.
  sluice = await startSluice(
    (port) =>
      testConfig(port, servers.map((srv) => ({ id: srv.id, url: srv.url })), 'breaker:\n  failure_threshold: 3\n  open_duration: 60s')
        .replace(/(name: server-2\n(?:.*\n){2})    health_path: \/health/, '$1    health_path: /admin/fault'),
    { ...otelEnv, OTEL_SERVICE_NAME: 'sluice' },
  );
  await waitFor(async () => {
    const body = (await (await fetch(`${sluice.url}/v1/models`)).json()) as { data: Array<{ endpoints: string[] }> };
    return body.data.length === 2 && body.data.some((m) => m.endpoints.length === 3);
  }, 30_000, 'catalog ready');
});

afterAll(async () => {
  await stopAll();
  await otlp.close();
});

async function scrape(): Promise<Map<string, ExposedFamily>> {
  return parseExposition(await (await fetch(`${sluice.url}/metrics`)).text());
}

const sample = findSample;

function chat(model: string, extra: Record<string, unknown> = {}) {
  return fetch(`${sluice.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'count my tokens please' }], max_tokens: 5, ...extra }),
  });
}

describe('metrics', () => {
  it('exports every contract metric with its labels, and counters match the requests sent', async () => {
    const before = await scrape();
    const okBefore = sample(before, 'sluice_requests_total', { endpoint: 'server-1', model: 'qwen2.5:0.5b', code: '200' }) ?? 0;
    const tokensBefore = sample(before, 'sluice_tokens_total', { endpoint: 'server-1', model: 'qwen2.5:0.5b', type: 'output' }) ?? 0;
    const firstTokens = (m: Map<string, ExposedFamily>, stream: string) => sample(m, 'sluice_time_to_first_token_seconds_count', { endpoint: 'server-1', model: 'qwen2.5:0.5b', stream }) ?? 0;
    const [streamedBefore, unstreamedBefore] = [firstTokens(before, 'true'), firstTokens(before, 'false')];
    for (let i = 0; i < 7; i++) expect((await chat('qwen2.5:0.5b')).status).toBe(200);
    // A streamed request reports usage in its final chunk.
    const client = new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'unused' });
    const stream = await client.chat.completions.create({ model: 'qwen2.5:0.5b', messages: [{ role: 'user', content: 'x' }], max_tokens: 3, stream: true, stream_options: { include_usage: true } });
    for await (const _ of stream) void _;
    // Ollama's eval counts too.
    const gen = await fetch(`${sluice.url}/api/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'qwen2.5:0.5b', prompt: 'p', stream: false, options: { num_predict: 2 } }) });
    expect(gen.status).toBe(200);
    await gen.text();
    // A stream whose client stops waiting before its first token (server-1 stalls it): counted as missed.
    expect((await postFault(servers[0]!.url, { mode: 'stall', delay_ms: 5000 })).ok).toBe(true);
    await fetch(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'qwen2.5:0.5b', messages: [{ role: 'user', content: 'x' }], stream: true }), signal: AbortSignal.timeout(500) })
      .then((r) => r.text())
      .catch(() => undefined);
    expect((await postFault(servers[0]!.url, { mode: 'none' })).ok).toBe(true);
    await waitFor(async () => (sample(await scrape(), 'sluice_first_token_missed_total', { endpoint: 'server-1', model: 'qwen2.5:0.5b' }) ?? 0) > 0, 5000, 'the missed first token counted');

    const text = await (await fetch(`${sluice.url}/metrics`)).text();
    // Prometheus' own parser accepts the exposition; its linter finds nothing wrong with Sluice's
    // metrics (prom-client's nodejs_active_*_total gauges are its own naming, not ours).
    const check = promtoolCheckMetrics(text);
    expect(check.problems.filter((p) => !/^nodejs_active_\w+_total non-counter/.test(p))).toEqual([]);
    const after = parseExposition(text);
    for (const spec of SLUICE_METRICS) {
      const name = spec.name;
      expect(after.get(name)?.type, `${name} type`).toBe(spec.type);
      const seriesName = spec.type === 'histogram' ? `${name}_count` : name;
      const series = allSamples(after).filter((s) => s.name === seriesName);
      // This test's endpoints have no load source and no rate limits: those series are proven by the stack test.
      if (spec.requires === undefined) expect(series.length, `${name} has series`).toBeGreaterThan(0);
      for (const s of series) expect(Object.keys(s.labels).sort(), `${name} labels`).toEqual([...spec.labels].sort());
      for (const [label, allowed] of Object.entries(spec.values ?? {})) for (const s of series) expect(allowed).toContain(s.labels[label]);
    }
    expect(sample(after, 'sluice_requests_total', { endpoint: 'server-1', model: 'qwen2.5:0.5b', code: '200' })).toBe(okBefore + 9);
    // 7 x 5 + 3 + 2 output tokens.
    expect(sample(after, 'sluice_tokens_total', { endpoint: 'server-1', model: 'qwen2.5:0.5b', type: 'output' })).toBe(tokensBefore + 35 + 3 + 2);
    expect(sample(after, 'sluice_tokens_total', { endpoint: 'server-1', model: 'qwen2.5:0.5b', type: 'input' })).toBeGreaterThan(0);
    // Every request's duration, by whether its answer was streamed: the OpenAI client's stream and
    // the one its client left (499) under stream="true", the 7 chats and the generation under "false".
    const durations = (m: Map<string, ExposedFamily>, stream: string) => sample(m, 'sluice_request_duration_seconds_count', { endpoint: 'server-1', model: 'qwen2.5:0.5b', stream }) ?? 0;
    expect(durations(after, 'true') - durations(before, 'true')).toBe(2);
    expect(durations(after, 'false') - durations(before, 'false')).toBe(8);
    // Time to first token by whether the response was streamed: the OpenAI client's stream (SSE)
    // under stream="true"; the 7 chats and the Ollama generation with "stream": false, whose
    // first token is the end of their body, under stream="false".
    expect(firstTokens(after, 'true')).toBe(streamedBefore + 1);
    expect(firstTokens(after, 'false')).toBe(unstreamedBefore + 8);
    expect(sample(after, 'sluice_models_available_endpoints', { model: 'llama3.2:1b' })).toBe(3);
    // State sets: exactly one state is 1 per endpoint.
    for (const [name, states] of [['sluice_endpoint_state', 5], ['sluice_endpoint_circuit_state', 3]] as const) {
      for (const ep of ['server-1', 'server-2', 'server-3']) {
        const series = allSamples(after).filter((s) => s.name === name && s.labels.endpoint === ep);
        expect(series).toHaveLength(states);
        expect(series.filter((s) => s.value === 1)).toHaveLength(1);
      }
    }
    expect(sample(after, 'sluice_endpoint_state', { endpoint: 'server-1', state: 'healthy' })).toBe(1);
  });

  it('made-up model names never create new series', async () => {
    const seriesCount = async () => {
      const text = await (await fetch(`${sluice.url}/metrics`)).text();
      return text.split('\n').filter((l) => l.startsWith('sluice_') && !l.startsWith('sluice_build')).length;
    };
    // One request first so that the `unknown` series exist.
    expect((await chat('warm-up-unknown')).status).toBe(404);
    const before = await seriesCount();
    for (let i = 0; i < 1000; i += 50) {
      await Promise.all(Array.from({ length: 50 }, async (_, j) => {
        const res = await chat(`random-${Math.random().toString(36).slice(2)}-${i + j}`);
        expect(res.status).toBe(404);
        await res.text();
      }));
    }
    expect(await seriesCount()).toBe(before);
    const models = new Set(allSamples(await scrape()).filter((s) => s.name === 'sluice_requests_total').map((s) => s.labels.model));
    expect([...models].every((m) => ['llama3.2:1b', 'qwen2.5:0.5b', 'unknown', 'none'].includes(m!))).toBe(true);
  });

  it('the breaker opening shows in sluice_endpoint_circuit_state', async () => {
    await fetch(`${servers[1]!.url}/admin/fault`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'error' }) });
    for (let i = 0; i < 12; i++) expect((await chat('llama3.2:1b')).status).toBe(200);
    const m = await scrape();
    expect(sample(m, 'sluice_endpoint_circuit_state', { endpoint: 'server-2', state: 'open' })).toBe(1);
    expect(sample(m, 'sluice_endpoint_circuit_state', { endpoint: 'server-2', state: 'closed' })).toBe(0);
    expect(sample(m, 'sluice_retries_total', { endpoint: 'server-2', reason: 'http_5xx' })).toBeGreaterThanOrEqual(3);
    await fetch(`${servers[1]!.url}/admin/fault`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'none' }) });
  });

  it('OpenMetrics scrapes carry trace-id exemplars on latency histograms', async () => {
    expect((await chat('qwen2.5:0.5b')).status).toBe(200);
    const res = await fetch(`${sluice.url}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    expect(res.headers.get('content-type')).toContain('application/openmetrics-text');
    const text = await res.text();
    expect(text).toMatch(/sluice_request_duration_seconds_bucket\{[^}]*\} \d+ # \{trace_id="[0-9a-f]{32}"\}/);
    expect(text.trimEnd().endsWith('# EOF')).toBe(true);
  });
});

describe('traces and logs', () => {
  it('one trace shows the proxy server span, an attempt span per try, and the backend span; the access log carries its id', async () => {
    const res = await chat('qwen2.5:0.5b', { max_tokens: 4 });
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-sluice-request-id')!;
    await res.text();
    const access = await waitForValue(() => sluice.proc.jsonLines().find((l) => l.message === 'request' && l.request_id === requestId), 'access log line');
    const traceId = String(access.trace_id);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    for (const key of ['time', 'request_id', 'trace_id', 'span_id', 'method', 'path', 'model', 'endpoint', 'status', 'attempts', 'duration_ms', 'ttfb_ms', 'bytes']) expect(access).toHaveProperty(key);

    const spans = await waitForValue(() => {
      const inTrace = otlp.spans.filter((s) => s.traceId === traceId);
      return inTrace.some((s) => s.service === 'model-server-1' && s.kind === 2) && inTrace.some((s) => s.name.startsWith('chat ')) ? inTrace : undefined;
    }, 'spans exported');
    const server = spans.find((s) => s.service === 'sluice' && s.kind === 2 && !s.parentSpanId)!;
    expect(server).toBeDefined();
    expect(server.name).toBe('POST');
    expect(server.attributes).toMatchObject({ 'http.request.method': 'POST', 'url.path': '/v1/chat/completions', 'url.scheme': 'http', 'server.address': '127.0.0.1', 'http.response.status_code': 200 });
    const attempts = spans.filter((s) => s.name === 'chat qwen2.5:0.5b');
    expect(attempts).toHaveLength(1);
    const attempt = attempts[0]!;
    expect(attempt.kind).toBe(3);
    expect(attempt.parentSpanId).toBe(server.spanId);
    expect(attempt.attributes).toMatchObject({ 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'qwen2.5:0.5b', 'gen_ai.response.model': 'qwen2.5:0.5b', 'sluice.endpoint': 'server-1', 'sluice.attempt': 1, 'server.address': '127.0.0.1', 'gen_ai.usage.output_tokens': 4 });
    expect(attempt.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    const backend = spans.find((s) => s.service === 'model-server-1' && s.kind === 2)!;
    expect(descendsFrom(spans, backend, attempt.spanId)).toBe(true);
  });

  it("a request that arrives with a traceparent continues the caller's trace", async () => {
    const callerTrace = '0af7651916cd43dd8448eb211c80319c';
    const callerSpan = 'b7ad6b7169203331';
    const res = await fetch(`${sluice.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${callerTrace}-${callerSpan}-01` },
      body: JSON.stringify({ model: 'qwen2.5:0.5b', messages: [{ role: 'user', content: 'hello' }], max_tokens: 2 }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const spans = await waitForValue(() => {
      const inTrace = otlp.spans.filter((s) => s.traceId === callerTrace);
      const sluiceSpans = inTrace.filter((s) => s.service === 'sluice');
      return inTrace.some((s) => s.service === 'model-server-1' && s.kind === 2) && sluiceSpans.some((s) => s.kind === 2) && sluiceSpans.some((s) => s.kind === 3) ? inTrace : undefined;
    }, 'spans in the caller trace');
    const server = spans.find((s) => s.service === 'sluice' && s.kind === 2)!;
    expect(server.parentSpanId).toBe(callerSpan);
    const attempt = spans.find((s) => s.service === 'sluice' && s.kind === 3)!;
    expect(attempt.parentSpanId).toBe(server.spanId);
  });

  it('a retried request has two attempt spans, the first marked with error.type', async () => {
    const server3 = servers[2]!;
    await fetch(`${server3.url}/admin/fault`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'crash' }) }).catch(() => undefined);
    await waitFor(() => server3.proc.child.exitCode !== null || server3.proc.child.signalCode !== null, 5000, 'server-3 exit');
    // llama3.2:1b is on every server (server-2's breaker is open); ask until a request lands first on the dead one.
    let traceId: string | undefined;
    for (let i = 0; i < 6 && !traceId; i++) {
      const res = await chat('llama3.2:1b');
      expect(res.status).toBe(200);
      await res.text();
      if (res.headers.get('x-sluice-attempts') === '2') {
        const id = res.headers.get('x-sluice-request-id');
        traceId = String((await waitForValue(() => sluice.proc.jsonLines().find((l) => l.request_id === id && l.message === 'request'), 'log')).trace_id);
      }
    }
    expect(traceId).toBeDefined();
    const attempts = await waitForValue(() => {
      const a = otlp.spans.filter((s) => s.traceId === traceId && s.name === 'chat llama3.2:1b');
      return a.length === 2 ? a : undefined;
    }, 'two attempt spans');
    const [first, second] = attempts.sort((a, b) => Number(a.attributes['sluice.attempt']) - Number(b.attributes['sluice.attempt']));
    expect(first!.attributes).toMatchObject({ 'sluice.endpoint': 'server-3', 'sluice.attempt': 1 });
    expect(first!.attributes['error.type']).toBeDefined();
    expect(second!.attributes).toMatchObject({ 'sluice.endpoint': 'server-1', 'sluice.attempt': 2 });
    expect(first!.parentSpanId).toBe(second!.parentSpanId);
  });

  it('state transitions are logged at warn with endpoint, from, to and reason', async () => {
    const line = await waitForValue(() => sluice.proc.jsonLines().find((l) => l.level === 'warn' && l.message === 'endpoint state changed' && l.endpoint === 'server-3' && l.to === 'unhealthy'), 'transition line');
    expect(line).toMatchObject({ endpoint: 'server-3', to: 'unhealthy' });
    expect(typeof line.from).toBe('string');
    expect(typeof line.reason).toBe('string');
  });
});

function descendsFrom(spans: ReceivedSpan[], span: ReceivedSpan, ancestorId: string): boolean {
  let current: ReceivedSpan | undefined = span;
  for (let depth = 0; current && depth < 10; depth++) {
    if (current.parentSpanId === ancestorId) return true;
    current = spans.find((s) => s.spanId === current!.parentSpanId);
  }
  return false;
}

async function waitForValue<T>(get: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  let value: T | undefined;
  await waitFor(() => (value = get()) !== undefined, timeoutMs, what);
  return value!;
}
