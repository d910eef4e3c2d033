import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { TokenTiming } from './token-timing.js';
import type { UsageTap } from './usage-tap.js';

/**
 * How streaming a response ended. `upstream_failed`: the backend closed it or went silent past
 * the idle timeout. `client_gone`: the client closed its connection. `client_stalled`: the client
 * stopped reading for longer than the stall timeout and Sluice closed its connection.
 */
export type StreamOutcome = { outcome: 'complete' | 'upstream_failed' | 'client_gone' | 'client_stalled'; bytes: number; timedOut: boolean };

export interface StreamTimeouts {
  /** The backend sent nothing for this long while Sluice was ready to read (proxy.idle_timeout). */
  readonly idleMs: number;
  /** The client read nothing for this long while Sluice had data for it (proxy.client_stall_timeout). */
  readonly stallMs: number;
}

/**
 * Streams the backend's body to the client chunk by chunk (no buffering: SSE and NDJSON
 * tokens reach the client as the backend sends them). If the backend dies or stalls past the
 * idle timeout, the client's connection is destroyed so it sees an error instead of hanging;
 * if the client leaves, the upstream request is cancelled so the model stops generating.
 * While the client is not reading, the backend is paused and its idle timer does not run: a
 * slow reader is timed on its own, and cut when it stalls for too long.
 */
export function streamResponse(proxyRes: IncomingMessage, res: ServerResponse, proxyReq: ClientRequest, timeouts: StreamTimeouts, tap: UsageTap, timing: TokenTiming): Promise<StreamOutcome> {
  return new Promise((resolve) => {
    let bytes = 0;
    let done = false;
    let timedOut = false;
    let waitingForClient = false;
    let stall: NodeJS.Timeout | undefined;
    const finish = (outcome: StreamOutcome['outcome']) => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      clearTimeout(stall);
      resolve({ outcome, bytes, timedOut });
    };
    const idle = setTimeout(() => {
      if (waitingForClient) return; // re-armed when the client drains
      timedOut = true;
      proxyRes.destroy(new Error('idle timeout'));
    }, timeouts.idleMs);
    const onStall = () => {
      finish('client_stalled');
      proxyRes.destroy();
      proxyReq.destroy();
      res.destroy();
    };
    const onDrain = () => {
      waitingForClient = false;
      clearTimeout(stall);
      stall = undefined;
      idle.refresh();
      proxyRes.resume();
    };
    proxyRes.on('data', (chunk: Buffer) => {
      idle.refresh();
      bytes += chunk.length;
      tap.push(chunk);
      timing.chunk(chunk, performance.now());
      if (!res.write(chunk)) {
        proxyRes.pause();
        waitingForClient = true;
        stall = setTimeout(onStall, timeouts.stallMs);
        res.once('drain', onDrain);
      }
    });
    proxyRes.on('end', () => {
      timing.end(performance.now());
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
