import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { UsageTap } from './usage-tap.js';

export type StreamOutcome = { outcome: 'complete' | 'upstream_failed' | 'client_gone'; bytes: number; timedOut: boolean };

/**
 * Streams the backend's body to the client chunk by chunk (no buffering: SSE and NDJSON
 * tokens reach the client as the backend sends them). If the backend dies or stalls past the
 * idle timeout, the client's connection is destroyed so it sees an error instead of hanging;
 * if the client leaves, the upstream request is cancelled so the model stops generating.
 */
export function streamResponse(proxyRes: IncomingMessage, res: ServerResponse, proxyReq: ClientRequest, idleMs: number, tap: UsageTap): Promise<StreamOutcome> {
  return new Promise((resolve) => {
    let bytes = 0;
    let done = false;
    let timedOut = false;
    const finish = (outcome: StreamOutcome['outcome']) => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      resolve({ outcome, bytes, timedOut });
    };
    const idle = setTimeout(() => {
      timedOut = true;
      proxyRes.destroy(new Error('idle timeout'));
    }, idleMs);
    proxyRes.on('data', (chunk: Buffer) => {
      idle.refresh();
      bytes += chunk.length;
      tap.push(chunk);
      if (!res.write(chunk)) {
        proxyRes.pause();
        res.once('drain', () => proxyRes.resume());
      }
    });
    proxyRes.on('end', () => {
      res.end();
      finish('complete');
    });
    proxyRes.on('error', () => undefined); // handled by 'close' below
    proxyRes.on('close', () => {
      if (done || proxyRes.complete) return;
      res.destroy();
      finish(res.writableEnded ? 'complete' : 'upstream_failed');
    });
    res.on('close', () => {
      if (done) return;
      if (res.writableFinished) return finish('complete');
      proxyRes.destroy();
      proxyReq.destroy();
      finish('client_gone');
    });
  });
}
