import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Endpoint } from '../../../src/endpoints/index.js';
import { httpProber } from '../../../src/health/prober.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

/** A health path that answers `first`, then streams 1 MiB chunks for as long as it is read; `sent` counts its bytes. */
async function floodingServer(first: string): Promise<{ url: URL; sent: () => number; closed: () => boolean }> {
  let sent = 0;
  let closed = false;
  const chunk = Buffer.alloc(1024 * 1024, 'x');
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write(first);
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) sent += chunk.length;
    };
    res.on('drain', pump);
    res.on('close', () => (closed = true));
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), sent: () => sent, closed: () => closed };
}

function endpointAt(baseUrl: URL, checkTimeoutMs: number): Endpoint {
  const config = { health_path: '/', check_timeout: checkTimeoutMs, health_expected_status: null, health_body_contains: 'Ollama is running' };
  return { baseUrl, config, authorization: undefined } as unknown as Endpoint;
}

describe('httpProber', () => {
  it('reads only the part of a body it searches: a health path that never stops sending passes at once and is not held in memory', async () => {
    const flood = await floodingServer('Ollama is running');
    const started = performance.now();
    const result = await httpProber(endpointAt(flood.url, 10_000));
    const tookMs = performance.now() - started;
    // Before, the whole body was read and then cut to 64 KiB: a body that never ends ran the
    // check into its timeout (a healthy server judged down), holding everything it read meanwhile.
    expect(result).toMatchObject({ ok: true, timedOut: false, status: 200 });
    expect(tookMs).toBeLessThan(5000);
    await expect.poll(() => flood.closed(), { timeout: 5000 }).toBe(true);
    // What the server managed to write before the check let go: socket buffers, not seconds of it.
    expect(flood.sent()).toBeLessThan(256 * 1024 * 1024);
  });

  it('still fails a body whose first 64 KiB lack the text, as soon as they have come', async () => {
    const flood = await floodingServer('');
    const result = await httpProber(endpointAt(flood.url, 10_000));
    expect(result).toMatchObject({ ok: false, timedOut: false, error: 'body does not contain "Ollama is running"' });
  });
});

describe('httpProber on a body that stalls', () => {
  it('is a timeout at check_timeout, as before', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('still loading');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    const result = await httpProber(endpointAt(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), 300));
    expect(result).toMatchObject({ ok: false, timedOut: true, error: 'timeout' });
  });
});
