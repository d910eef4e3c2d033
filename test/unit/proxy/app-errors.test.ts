import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModelCatalog } from '../../../src/discovery/index.js';
import { createProxyApp } from '../../../src/proxy/app.js';
import { BodyBudget } from '../../../src/proxy/body-budget.js';
import type { Forwarder } from '../../../src/proxy/forwarder.js';
import { createLogger } from '../../../src/telemetry/index.js';

let server: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** The proxy app on a real port, with a forwarder whose `handle` is the test's. */
async function appWith(handle: Forwarder['handle'], logged: string[]): Promise<string> {
  // The app reads only these of the forwarder and the catalog on the proxied path.
  const forwarder = { refusal: () => undefined, handle, reject: () => undefined } as unknown as Forwarder;
  const catalog = { primed: true } as unknown as ModelCatalog;
  const logger = createLogger('error');
  for (const transport of logger.transports) transport.silent = true;
  logger.on('data', (line: { message: string }) => logged.push(line.message));
  const listener = createProxyApp({ current: () => ({ forwarder, catalog, maxBodyBytes: 1 << 20, maxBodyTotalBytes: 1 << 24 }), logger, bodies: new BodyBudget() });
  server = createServer(listener);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('an internal error in the request path', () => {
  it('after the answer was sent: logged, the answer stands, the process goes on', async () => {
    const logged: string[] = [];
    const url = await appWith(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
      throw new Error('failed while recording the request');
    }, logged);
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"m"}' });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true });
    }
    // An unhandled rejection or exception would fail this test (vitest reports them as errors).
    await new Promise((resolve) => setImmediate(resolve));
    expect(logged.filter((m) => m === 'unhandled error')).toHaveLength(2);
  });

  it('before the answer: a 500 JSON error with the request id', async () => {
    const logged: string[] = [];
    const url = await appWith(async () => {
      throw new Error('a defect');
    }, logged);
    const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"m"}' });
    expect(res.status).toBe(500);
    expect(res.headers.get('x-sluice-request-id')).toBeTruthy();
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('internal error');
    expect(logged).toContain('unhandled error');
  });
});
