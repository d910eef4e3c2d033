import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { TokenTiming } from './token-timing.js';
import type { UsageTap } from './usage-tap.js';

/**
 * How streaming a response ended. `upstream_failed`: the backend closed it, went silent past
 * the idle timeout (`timedOut`), or ended it without the end marker its API promises
 * (`unterminated`). `client_gone`: the client closed its connection. `client_stalled`: the
 * client stopped reading for longer than the stall timeout and Sluice closed its connection.
 */
export type StreamOutcome = { outcome: 'complete' | 'upstream_failed' | 'client_gone' | 'client_stalled'; bytes: number; timedOut: boolean; unterminated?: boolean };

/**
 * Nothing reached the client. A held head whose first token never came: the deadline ran out
 * (`no_first_token`, the upstream request cancelled), or the backend cut the response or went
 * silent past the idle timeout first (`cut_before_first_token`). Or a head not held, cut the same
 * way before the first byte of its body (`cut_before_body`): its status line had not gone out
 * either, and the client can still be given an error rather than an empty reply.
 */
export type NothingSent = { outcome: 'no_first_token' } | { outcome: 'cut_before_first_token'; timedOut: boolean } | { outcome: 'cut_before_body'; timedOut: boolean };

/** How the response head goes out: with the body's first byte, or held back until the body carries a first token. */
export interface ResponseHead {
  /** Writes the status and headers; called once, before any body byte. */
  readonly send: () => void;
  /** Hold the head (and the body before the first token) for at most this long; undefined: send it with the first byte. */
  readonly holdMs?: number;
}

/**
 * The most a held head keeps back before its first token: past it the head and what was kept go
 * out, and the deadline no longer applies to the attempt. A stream's preamble (role chunk,
 * comments) is a few hundred bytes; this bounds a backend that sends much more without a token.
 */
export const MAX_HELD_BYTES = 64 * 1024;

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
 *
 * The head is written with the body's first bytes (Node sends it with them anyway), so that a
 * backend that fails before any (`cut_before_body`) leaves the client nothing but an error to
 * get. A held head waits for the first token (see TokenTiming): what comes before it is kept back,
 * then sent with the head. If the body ends first, the head and what was kept go out then, as
 * they would have without holding. If the backend fails first (`cut_before_first_token`), or the
 * hold runs out (`no_first_token`, the upstream request cancelled), nothing has reached the
 * client, and another endpoint may answer it.
 *
 * A body that ends without being `whole` (its API's end marker missing) is a cut stream: the
 * client's connection is destroyed rather than ended, so that the client, too, sees an answer
 * cut short rather than a finished one.
 */
export function streamResponse(proxyRes: IncomingMessage, res: ServerResponse, proxyReq: ClientRequest, timeouts: StreamTimeouts, tap: UsageTap, timing: TokenTiming, head: ResponseHead, whole: () => boolean = () => true): Promise<StreamOutcome | NothingSent> {
  return new Promise((resolve) => {
    let bytes = 0;
    let done = false;
    let timedOut = false;
    let waitingForClient = false;
    let stall: NodeJS.Timeout | undefined;
    // Kept back until the head goes out: the first chunk, or, for a held head, every chunk before the first token.
    let held: Buffer[] | undefined = [];
    const holding = head.holdMs !== undefined;
    const stop = () => {
      done = true;
      clearTimeout(idle);
      clearTimeout(stall);
      clearTimeout(firstToken);
    };
    const finish = (outcome: StreamOutcome['outcome'], unterminated = false) => {
      if (done) return;
      stop();
      resolve(unterminated ? { outcome, bytes, timedOut, unterminated } : { outcome, bytes, timedOut });
    };
    const firstToken = head.holdMs === undefined ? undefined : setTimeout(() => {
      if (done || !held) return;
      stop();
      proxyRes.destroy();
      proxyReq.destroy();
      resolve({ outcome: 'no_first_token' });
    }, head.holdMs);
    /** Sends the head and the body kept back (once); false when the client's buffer is full. */
    const release = (): boolean => {
      if (!held) return true;
      const chunks = held;
      held = undefined;
      clearTimeout(firstToken);
      head.send();
      let flowing = true;
      for (const chunk of chunks) flowing = res.write(chunk);
      return flowing;
    };
    // The backend's silence is timed lazily: each chunk only notes when it came, and the timer,
    // when it fires early, is set again for what is left (a store per chunk rather than moving a
    // timer in Node's timer list on every chunk of every stream).
    let lastDataAt = performance.now();
    let idle: NodeJS.Timeout | undefined;
    const onIdle = () => {
      idle = undefined;
      if (waitingForClient) return; // set again when the client drains
      const left = timeouts.idleMs - (performance.now() - lastDataAt);
      if (left > 0) {
        idle = setTimeout(onIdle, left);
        return;
      }
      timedOut = true;
      proxyRes.destroy(new Error('idle timeout'));
    };
    // A body that has already arrived whole (most responses that are not streamed) cannot go silent: no timer.
    const armIdle = () => {
      if (!proxyRes.complete) idle ??= setTimeout(onIdle, timeouts.idleMs);
    };
    armIdle();
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
      lastDataAt = performance.now();
      timing.resumed();
      armIdle();
      proxyRes.resume();
    };
    proxyRes.on('data', (chunk: Buffer) => {
      const now = performance.now();
      lastDataAt = now;
      bytes += chunk.length;
      tap.push(chunk);
      timing.chunk(chunk, now);
      let flowing: boolean;
      if (held) {
        held.push(chunk);
        if (holding && timing.firstTokenAt === undefined && bytes <= MAX_HELD_BYTES) return;
        flowing = release();
      } else {
        flowing = res.write(chunk);
      }
      if (!flowing) {
        proxyRes.pause();
        waitingForClient = true;
        stall = setTimeout(onStall, timeouts.stallMs);
        res.once('drain', onDrain);
      }
    });
    proxyRes.on('end', () => {
      release();
      if (!whole()) {
        res.destroy();
        finish('upstream_failed', true);
        return;
      }
      timing.end(performance.now());
      res.end();
      finish('complete');
    });
    proxyRes.on('error', () => undefined); // handled by 'close' below
    proxyRes.on('close', () => {
      if (done || proxyRes.complete) return;
      if (held) {
        stop();
        proxyReq.destroy();
        resolve(holding ? { outcome: 'cut_before_first_token', timedOut } : { outcome: 'cut_before_body', timedOut });
        return;
      }
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
