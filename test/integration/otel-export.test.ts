/**
 * With only OTEL_EXPORTER_OTLP_ENDPOINT set, Sluice exports traces and nothing else (a trace
 * store such as Jaeger refuses OTLP metrics and logs); naming another exporter turns it on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { startModelServer, startSluice, stopAll, testConfig, waitFor, type ModelServer } from '../helpers/processes.js';

let server: ModelServer;
let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;

// Short intervals so that an exporter that is on would post within the test's wait.
const FAST_EXPORT = { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_METRIC_EXPORT_INTERVAL: '300', OTEL_BLRP_SCHEDULE_DELAY: '100' };

beforeAll(async () => {
  otlp = await startOtlpReceiver();
  server = await startModelServer('server-1', ['llama3.2:1b']);
});

afterAll(async () => {
  await stopAll();
  await otlp.close();
});

async function runWith(env: Record<string, string>): Promise<string[]> {
  otlp.paths.length = 0;
  const sluice = await startSluice((port) => testConfig(port, [{ id: server.id, url: server.url }]), { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, ...FAST_EXPORT, ...env }, false);
  // Loading the OpenTelemetry SDK takes a while on a busy machine.
  await waitFor(async () => (await fetch(`${sluice.url}/internal/health`)).ok, 60_000, 'sluice healthy');
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'llama3.2:1b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }) });
    expect(res.status).toBe(200);
    await res.text();
  }
  await waitFor(() => otlp.paths.includes('/v1/traces'), 10_000, 'traces exported');
  // Ten metric export intervals and many log batch delays.
  await new Promise((r) => setTimeout(r, 3000));
  await sluice.proc.stop();
  return [...new Set(otlp.paths)].sort();
}

describe('OTLP export', { timeout: 120_000 }, () => {
  it('exports traces only when only the endpoint is set', async () => {
    expect(await runWith({})).toEqual(['/v1/traces']);
  });

  // Logs would only be sent by an OpenTelemetry log bridge (Sluice logs to stdout), so metrics show it.
  it('exports metrics too when the user names an exporter for them', async () => {
    expect(await runWith({ OTEL_METRICS_EXPORTER: 'otlp' })).toEqual(['/v1/metrics', '/v1/traces']);
  });
});
