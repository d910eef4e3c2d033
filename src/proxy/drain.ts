import type { IncomingMessage } from 'node:http';

/** How long, and how many bytes, a response Sluice does not pass on is read for its connection's sake. */
const DRAIN_MS = 1000;
const DRAIN_BYTES = 64 * 1024;

/**
 * Reads and discards the body of a response that is not sent on (a status that is retried), so
 * that its keep-alive connection can carry the next request. A body still coming after DRAIN_MS,
 * or longer than DRAIN_BYTES, is not worth the connection: it is destroyed. Without the bound, a
 * backend that never ends such a body held its connection, and the upstream's count of requests
 * in flight, for good.
 */
export function discardForReuse(proxyRes: IncomingMessage): void {
  if (proxyRes.complete) {
    proxyRes.resume();
    return;
  }
  let bytes = 0;
  const cut = () => proxyRes.destroy();
  const timer = setTimeout(cut, DRAIN_MS);
  timer.unref();
  proxyRes.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > DRAIN_BYTES) cut();
  });
  proxyRes.once('close', () => clearTimeout(timer));
  proxyRes.resume();
}
