import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { endsWithMarker } from '../../../src/proxy/end-marker.js';
import { MAX_HELD_BYTES, streamResponse } from '../../../src/proxy/stream-response.js';
import { TokenTiming } from '../../../src/proxy/token-timing.js';
import { UsageTap } from '../../../src/proxy/usage-tap.js';

// The backend's response and the client's as streams: what streamResponse reads and writes.
function upstream(complete: boolean): IncomingMessage {
  return Object.assign(new PassThrough(), { complete, headers: { 'content-type': 'application/json' } }) as unknown as IncomingMessage;
}

function client(): ServerResponse & { received: Buffer[] } {
  const received: Buffer[] = [];
  const res = new PassThrough();
  res.on('data', (c: Buffer) => received.push(c));
  return Object.assign(res, { received }) as unknown as ServerResponse & { received: Buffer[] };
}

const proxyReq = { destroy: () => undefined } as unknown as ClientRequest;
const timeouts = { idleMs: 60_000, stallMs: 60_000 };

/** Starts streaming a backend response whose body has (`complete`) or has not fully arrived, on fake timers. */
function started(complete: boolean) {
  const proxyRes = upstream(complete);
  const res = client();
  const timing = new TokenTiming(proxyRes.headers, { observe: () => undefined });
  const done = streamResponse(proxyRes, res, proxyReq, timeouts, new UsageTap(), timing, { send: () => undefined });
  return { backend: proxyRes as unknown as PassThrough, res, done };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('streamResponse idle timer', () => {
  it('a body that arrived whole before sending starts arms no idle timer, and is sent on', async () => {
    const { backend, res, done } = started(true);
    expect(vi.getTimerCount()).toBe(0);
    backend.end('{"ok":true}');
    await expect(done).resolves.toEqual({ outcome: 'complete', bytes: 11, timedOut: false });
    expect(Buffer.concat(res.received).toString()).toBe('{"ok":true}');
  });

  it('a body still arriving is timed: silence past the idle timeout cuts it', async () => {
    const { backend, done } = started(false);
    expect(vi.getTimerCount()).toBe(1);
    backend.write('{"ok":');
    await vi.advanceTimersByTimeAsync(timeouts.idleMs + 1);
    await expect(done).resolves.toEqual({ outcome: 'upstream_failed', bytes: 6, timedOut: true });
  });
});

describe('a held head', () => {
  function heldStream() {
    const proxyRes = Object.assign(new PassThrough(), { complete: false, headers: { 'content-type': 'text/event-stream' } }) as unknown as IncomingMessage;
    const res = client();
    let headSent = 0;
    const timing = new TokenTiming(proxyRes.headers, { observe: () => undefined });
    const done = streamResponse(proxyRes, res, proxyReq, timeouts, new UsageTap(), timing, { send: () => headSent++, holdMs: 10_000 });
    return { backend: proxyRes as unknown as PassThrough, res, done, headSent: () => headSent };
  }

  it('keeps the preamble back until the first token, then sends head and all', async () => {
    const { backend, res, done, headSent } = heldStream();
    backend.write('data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n');
    await vi.advanceTimersByTimeAsync(1);
    expect(headSent()).toBe(0);
    expect(res.received).toEqual([]);
    backend.end('data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n');
    await expect(done).resolves.toMatchObject({ outcome: 'complete' });
    expect(headSent()).toBe(1);
    expect(Buffer.concat(res.received).toString()).toContain('"Hi"');
  });

  it(`stops holding past ${MAX_HELD_BYTES} bytes without a token: what was kept goes out, rather than pile up`, async () => {
    const { backend, res, done, headSent } = heldStream();
    const comment = `: ${'x'.repeat(1020)}\n\n`; // 1 KB keep-alive comments, no token
    for (let i = 0; i < 64; i++) backend.write(comment);
    await vi.advanceTimersByTimeAsync(1);
    expect(headSent()).toBe(0);
    backend.write(comment);
    await vi.advanceTimersByTimeAsync(1);
    expect(headSent()).toBe(1);
    expect(Buffer.concat(res.received).length).toBe(65 * comment.length);
    backend.end();
    await expect(done).resolves.toMatchObject({ outcome: 'complete' });
  });

  it('a backend that closes before the first token: nothing is sent, and the attempt may go elsewhere', async () => {
    const { backend, res, done, headSent } = heldStream();
    backend.write('data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n');
    backend.destroy();
    await expect(done).resolves.toEqual({ outcome: 'cut_before_first_token', timedOut: false });
    expect(headSent()).toBe(0);
    expect(res.received).toEqual([]);
  });
});

describe('a body that ends without its end marker', () => {
  function stream(tail: string) {
    const proxyRes = Object.assign(new PassThrough(), { complete: false, headers: { 'content-type': 'text/event-stream' } }) as unknown as IncomingMessage;
    const res = client();
    const tap = new UsageTap();
    const timing = new TokenTiming(proxyRes.headers, { observe: () => undefined });
    const done = streamResponse(proxyRes, res, proxyReq, timeouts, tap, timing, { send: () => undefined }, () => endsWithMarker(tap.lastBytes(), 'openai'));
    (proxyRes as unknown as PassThrough).end(`data: {"choices":[{"delta":{"content":"a"}}]}\n\n${tail}`);
    return { res: res as unknown as PassThrough, done };
  }

  it('is a cut stream, and the client connection is destroyed rather than ended', async () => {
    const { res, done } = stream('');
    await expect(done).resolves.toMatchObject({ outcome: 'upstream_failed', unterminated: true, timedOut: false });
    expect(res.destroyed).toBe(true);
    expect(res.writableEnded).toBe(false);
  });

  it('with it, the same body is complete and ended', async () => {
    const { res, done } = stream('data: [DONE]\n\n');
    await expect(done).resolves.toEqual({ outcome: 'complete', bytes: 61, timedOut: false });
    expect(res.writableEnded).toBe(true);
  });
});
