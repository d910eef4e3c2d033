import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { streamResponse } from '../../../src/proxy/stream-response.js';
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

function start(proxyRes: IncomingMessage, res: ServerResponse) {
  const timing = new TokenTiming(proxyRes.headers, { observe: () => undefined });
  return streamResponse(proxyRes, res, proxyReq, timeouts, new UsageTap(), timing, { send: () => undefined });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('streamResponse idle timer', () => {
  it('a body that arrived whole before sending starts arms no idle timer, and is sent on', async () => {
    vi.useFakeTimers();
    const proxyRes = upstream(true);
    const res = client();
    const done = start(proxyRes, res);
    expect(vi.getTimerCount()).toBe(0);
    (proxyRes as unknown as PassThrough).end('{"ok":true}');
    await expect(done).resolves.toEqual({ outcome: 'complete', bytes: 11, timedOut: false });
    expect(Buffer.concat(res.received).toString()).toBe('{"ok":true}');
  });

  it('a body still arriving is timed: silence past the idle timeout cuts it', async () => {
    vi.useFakeTimers();
    const proxyRes = upstream(false);
    const res = client();
    const done = start(proxyRes, res);
    expect(vi.getTimerCount()).toBe(1);
    (proxyRes as unknown as PassThrough).write('{"ok":');
    await vi.advanceTimersByTimeAsync(timeouts.idleMs + 1);
    await expect(done).resolves.toEqual({ outcome: 'upstream_failed', bytes: 6, timedOut: true });
  });
});
