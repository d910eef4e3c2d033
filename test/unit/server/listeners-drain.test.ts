import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startListeners, type Listeners } from '../../../src/server/index.js';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
const SETTINGS = { host: '127.0.0.1', port: 0, headers_timeout: 10_000, request_timeout: 30_000, max_connections: 100 };

/** Far more than loopback's socket buffers hold: most of it waits in Node until the client reads. */
const BODY_BYTES = 32 * 1024 * 1024;

let listeners: Listeners | undefined;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await listeners?.close(0);
  listeners = undefined;
});

function connect(url: string): net.Socket {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  sockets.push(socket);
  return socket;
}

/** Reads a raw HTTP exchange to its end: the bytes received, and whether the connection was reset. */
function readAll(socket: net.Socket): Promise<{ bytes: number; error?: string }> {
  return new Promise((resolve) => {
    let bytes = 0;
    let error: string | undefined;
    socket.on('data', (c: Buffer) => (bytes += c.length));
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    socket.on('close', () => resolve(error === undefined ? { bytes } : { bytes, error }));
  });
}

describe('startListeners: the drain at shutdown', () => {
  it('does not cut a response that has ended but is still being written to a client that reads slowly', async () => {
    let ended = false;
    listeners = await startListeners({
      server: SETTINGS as never,
      proxy: (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BODY_BYTES });
        res.end(Buffer.alloc(BODY_BYTES, 'x'));
        ended = true;
      },
      logger: silent as never,
      metrics: { shutdownCut: () => undefined },
    });
    const client = connect(listeners.url);
    client.write('GET /large HTTP/1.1\r\nhost: sluice\r\n\r\n');
    // The client does not read yet: the response has ended in the handler, its bytes wait.
    client.pause();
    const received = readAll(client);
    while (!ended) await new Promise((r) => setTimeout(r, 10));
    const closed = listeners.close(10_000);
    // Several of the drain's sweeps of idle connections (every 100 ms) go by before the client reads.
    await new Promise((r) => setTimeout(r, 500));
    client.resume();
    const { bytes, error } = await received;
    expect(error).toBeUndefined();
    // Status line and headers, then the whole body.
    expect(bytes).toBeGreaterThan(BODY_BYTES);
    expect(await closed).toBe(0);
    listeners = undefined;
  });

  it('still closes an idle keep-alive connection while another request is in flight', async () => {
    let finish: (() => void) | undefined;
    listeners = await startListeners({
      server: SETTINGS as never,
      proxy: (req, res) => {
        if (req.url === '/slow') finish = () => res.end('slow done');
        else res.end('quick');
      },
      logger: silent as never,
      metrics: { shutdownCut: () => undefined },
    });
    // A keep-alive connection that has had its answer and sits idle.
    const idle = connect(listeners.url);
    const idleDone = readAll(idle);
    let idleBytes = 0;
    idle.on('data', (c: Buffer) => (idleBytes += c.length));
    idle.write('GET /quick HTTP/1.1\r\nhost: sluice\r\n\r\n');
    while (idleBytes === 0) await new Promise((r) => setTimeout(r, 10));
    // A request in flight, which keeps the drain going.
    const busy = connect(listeners.url);
    const busyDone = readAll(busy);
    busy.write('GET /slow HTTP/1.1\r\nhost: sluice\r\nconnection: close\r\n\r\n');
    while (!finish) await new Promise((r) => setTimeout(r, 10));
    const closed = listeners.close(10_000);
    // Closed by the drain, long before the request in flight ends.
    const idleClosed = await Promise.race([idleDone.then(() => true), new Promise((r) => setTimeout(() => r(false), 2000))]);
    expect(idleClosed).toBe(true);
    finish();
    expect((await busyDone).error).toBeUndefined();
    expect(await closed).toBe(0);
    listeners = undefined;
  });
});
