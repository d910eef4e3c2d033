import { afterEach, describe, expect, it } from 'vitest';
import { scriptedBackends } from '../helpers/backends.js';
import { startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { startSluice, stopAll, waitFor, waitReady } from '../helpers/processes.js';

// The trace context a backend receives, for a trace Sluice records and for one sampled out
// upstream of it (the caller's traceparent says "not sampled", and the default parent-based
// sampler follows it): either way the caller's trace goes on, with its sampled flag.

const backends = scriptedBackends();
let receiver: Awaited<ReturnType<typeof startOtlpReceiver>> | undefined;
afterEach(async () => {
  await stopAll();
  await backends.closeAll();
  await receiver?.close();
});

describe('trace context passed to the backend', () => {
  it('continues the caller trace with its sampled flag; a sampled-out trace exports no span', async () => {
    const traceparents: string[] = [];
    const b = await backends.backend((req, res) => {
      traceparents.push(String(req.headers.traceparent));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    receiver = await startOtlpReceiver();
    const sluice = await startSluice(
      (port) => `server:\n  host: 127.0.0.1\n  port: ${port}\nhealth:\n  slow_start: 0s\nendpoints:\n  - name: b\n    url: ${b.url}\n    check_interval: 1s\n`,
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: 'sluice' },
    );
    await waitReady(sluice.url, 1, ['t:1']);
    const send = (traceparent: string) => fetch(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', traceparent }, body: '{"model":"t:1"}' });

    const outTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    expect((await send(`00-${outTrace}-00f067aa0ba902b7-00`)).status).toBe(200);
    const inTrace = '0af7651916cd43dd8448eb211c80319c';
    expect((await send(`00-${inTrace}-b7ad6b7169203331-01`)).status).toBe(200);

    const [out, recorded] = traceparents.map((t) => t.split('-'));
    expect(out).toHaveLength(4);
    expect([out![1], out![3]]).toEqual([outTrace, '00']);
    expect(recorded).toHaveLength(4);
    expect([recorded![1], recorded![3]]).toEqual([inTrace, '01']);
    // The sampled trace: the backend's parent is Sluice's attempt span, a child of its server span.
    const spans = await waitFor(() => receiver!.spans.filter((s) => s.traceId === inTrace).length === 2, 10_000, 'the sampled trace exported').then(() => receiver!.spans);
    const server = spans.find((s) => s.traceId === inTrace && s.kind === 2)!;
    const attempt = spans.find((s) => s.traceId === inTrace && s.kind === 3)!;
    expect(attempt.parentSpanId).toBe(server.spanId);
    expect(recorded![2]).toBe(attempt.spanId);
    expect(spans.filter((s) => s.traceId === outTrace)).toEqual([]);
  }, 60_000);
});
