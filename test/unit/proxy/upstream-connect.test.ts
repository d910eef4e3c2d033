import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Upstream, type AttemptResult } from '../../../src/proxy/upstream.js';

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** A server that accepts connections and never answers a byte: a TLS handshake to it stalls after its TCP connect. */
async function silentServer(): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

/** One client request through `upstream`, as the forwarder makes it: the attempt's result, and how long it took. */
async function attemptThrough(upstream: Upstream): Promise<{ result: AttemptResult; ms: number }> {
  let done!: (v: { result: AttemptResult; ms: number }) => void;
  const settled = new Promise<{ result: AttemptResult; ms: number }>((r) => (done = r));
  const front = http.createServer((req, res) => {
    const started = performance.now();
    void upstream.attempt(req, res, { body: Buffer.from('{"model":"t:1"}'), requestId: 'r1', headers: {} }).then((result) => {
      done({ result, ms: performance.now() - started });
      res.destroy();
    });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  closers.push(() => {
    front.closeAllConnections();
    front.close();
  });
  const client = http.request({ port: (front.address() as AddressInfo).port, host: '127.0.0.1', method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' } });
  client.on('error', () => undefined);
  client.end('{"model":"t:1"}');
  return settled;
}

describe('Upstream connect timeout', () => {
  it('covers the TLS handshake of an https endpoint: a handshake that stalls is a connect timeout, the request not sent', async () => {
    const port = await silentServer();
    const upstream = new Upstream(new URL(`https://127.0.0.1:${port}`), { connectMs: 300, firstByteMs: 10_000 });
    closers.push(() => upstream.close());
    const { result, ms } = await attemptThrough(upstream);
    // Before, the timer stopped at the TCP connect: the attempt waited for first_byte_timeout (300 s by
    // default), then counted as sent, so a POST was never tried on another endpoint.
    expect(result).toMatchObject({ kind: 'failed', reason: 'timeout', sent: false });
    expect(ms).toBeLessThan(5000);
  });

  it('still ends at the TCP connect for plain HTTP: a silent backend is a first-byte timeout, the request sent', async () => {
    const port = await silentServer();
    const upstream = new Upstream(new URL(`http://127.0.0.1:${port}`), { connectMs: 300, firstByteMs: 800 });
    closers.push(() => upstream.close());
    const { result } = await attemptThrough(upstream);
    expect(result).toMatchObject({ kind: 'failed', reason: 'timeout', sent: true });
  });
});
