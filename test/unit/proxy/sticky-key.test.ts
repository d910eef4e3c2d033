import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { stickyKey, stickyKeySource } from '../../../src/proxy/sticky-key.js';

function req(remote: string, headers: Record<string, string> = {}): IncomingMessage {
  return { socket: { remoteAddress: remote }, headers } as unknown as IncomingMessage;
}

describe('sticky keys', () => {
  it('ip: the peer address, with IPv4-mapped IPv6 folded', () => {
    const src = stickyKeySource('ip', []);
    expect(stickyKey(src, req('::ffff:10.1.2.3'))).toBe('10.1.2.3');
  });

  it('forwarded-for: right-most address that is not a trusted proxy', () => {
    const src = stickyKeySource('forwarded-for', ['10.0.0.0/8', '192.168.1.1']);
    // CDN (192.168.1.1, trusted) in front of a load balancer (10.0.0.5, trusted, the peer).
    expect(stickyKey(src, req('10.0.0.5', { 'x-forwarded-for': '203.0.113.9, 192.168.1.1' }))).toBe('203.0.113.9');
  });

  it('forwarded-for: a client cannot pick its key by forging the header', () => {
    const src = stickyKeySource('forwarded-for', ['10.0.0.0/8']);
    // The forged left-most entry is ignored: the proxy appended the real client.
    expect(stickyKey(src, req('10.0.0.5', { 'x-forwarded-for': '1.1.1.1, 198.51.100.7' }))).toBe('198.51.100.7');
    // An untrusted peer is the client, whatever it sends.
    expect(stickyKey(src, req('198.51.100.8', { 'x-forwarded-for': '1.1.1.1' }))).toBe('198.51.100.8');
  });

  it('header and cookie keys; absent means no stickiness', () => {
    expect(stickyKey(stickyKeySource('header:X-Session', []), req('1.1.1.1', { 'x-session': 'abc' }))).toBe('abc');
    expect(stickyKey(stickyKeySource('header:X-Session', []), req('1.1.1.1'))).toBeUndefined();
    expect(stickyKey(stickyKeySource('cookie:sid', []), req('1.1.1.1', { cookie: 'a=1; sid=xyz%20; b=2' }))).toBe('xyz ');
    expect(stickyKey(stickyKeySource('cookie:sid', []), req('1.1.1.1', { cookie: 'a=1' }))).toBeUndefined();
  });
});
