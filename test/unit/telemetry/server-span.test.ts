import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { tracing } from '@opentelemetry/sdk-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordServerOutcome, startServerSpan } from '../../../src/telemetry/index.js';

const exporter = new tracing.InMemorySpanExporter();
const provider = new tracing.BasicTracerProvider({ spanProcessors: [new tracing.SimpleSpanProcessor(exporter)] });
let server: http.Server;
let url: string;

beforeAll(async () => {
  trace.setGlobalTracerProvider(provider);
  // /never: no answer (the client leaves first); /late: the head, then a body that never ends; other paths: 404 at once.
  server = http.createServer((req, res) => {
    const requestContext = startServerSpan(req, res);
    if (req.url === '/never') return;
    if (req.url === '/cut') {
      // As Sluice does for a stream the backend cut: the client's connection destroyed, the
      // request's end recorded once the stream's promise settles (after the response's close).
      res.writeHead(200, { 'content-type': 'text/event-stream' }).write('data: x\n\n');
      setTimeout(() => {
        res.destroy();
        void Promise.resolve().then(() => recordServerOutcome(requestContext, 502, 'stream_cut'));
      }, 50);
      return;
    }
    if (req.url === '/late') return void res.writeHead(200, { 'content-type': 'text/event-stream' }).write('data: x\n\n');
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  trace.disable();
  await provider.shutdown();
});

/** The attributes of the server span of the request to `path`, once it has ended. */
async function spanOf(path: string, leaveAfterMs?: number): Promise<Record<string, unknown>> {
  exporter.reset();
  const controller = new AbortController();
  const answered = fetch(`${url}${path}`, { signal: controller.signal }).then((r) => r.arrayBuffer()).catch(() => undefined);
  if (leaveAfterMs !== undefined) setTimeout(() => controller.abort(), leaveAfterMs);
  await answered;
  for (let i = 0; i < 100 && exporter.getFinishedSpans().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const [span] = exporter.getFinishedSpans();
  return { ...span!.attributes };
}

describe('server span', () => {
  it('carries the status the client got', async () => {
    const attributes = await spanOf('/answered');
    expect(attributes['http.response.status_code']).toBe(404);
    expect(attributes['error.type']).toBeUndefined();
  });

  it('claims no status for a client that left before the response head', async () => {
    const attributes = await spanOf('/never', 100);
    expect(attributes['error.type']).toBe('client_closed');
    expect(attributes).not.toHaveProperty('http.response.status_code');
  });

  it('is an error with the reason Sluice recorded for a stream it cut because the backend did, not a client that left', async () => {
    exporter.reset();
    await fetch(`${url}/cut`).then((r) => r.arrayBuffer()).catch(() => undefined);
    for (let i = 0; i < 100 && exporter.getFinishedSpans().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const [span] = exporter.getFinishedSpans();
    expect(span!.attributes['error.type']).toBe('stream_cut');
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('keeps the status sent for a client that left during the body', async () => {
    const attributes = await spanOf('/late', 100);
    expect(attributes['error.type']).toBe('client_closed');
    expect(attributes['http.response.status_code']).toBe(200);
  });
});
