import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { trustedList } from '../../../src/proxy/trusted-proxies.js';
import { clientBehindTrustedProxies, forwardedAddress, stickyKey, stickyKeySource } from '../../../src/proxy/sticky-key.js';

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

  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['203.0.113.7:4711', '203.0.113.7'], // Azure Application Gateway appends the client's port
    [' 203.0.113.7:4711 ', '203.0.113.7'],
    ['[2001:db8::1]:4711', '2001:db8::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['"[2001:db8::1]:4711"', '2001:db8::1'], // quoted, as RFC 7239's for= writes it
    ['"203.0.113.7:4711"', '203.0.113.7'],
    ['[::ffff:203.0.113.7]:80', '203.0.113.7'],
    ['2001:db8::1', '2001:db8::1'], // no brackets: the whole of it is the address
    ['fe80::1%eth0', 'fe80::1%eth0'],
    ['unknown', undefined],
    ['_hidden', undefined],
    ['203.0.113.7:', undefined],
    ['203.0.113.7:port', undefined],
    ['[2001:db8::1]:', undefined],
    ['example.com:443', undefined],
    ['', undefined],
  ])('an X-Forwarded-For entry %j names %s', (entry, address) => {
    expect(forwardedAddress(entry)).toBe(address);
  });

  it('forwarded-for behind a proxy that appends ports: one client whatever its port, trusted hops skipped with theirs', () => {
    const trusted = trustedList(['10.0.0.0/8']);
    const from = (xff: string) => clientBehindTrustedProxies(req('10.0.0.5', { 'x-forwarded-for': xff }), trusted);
    expect(from('203.0.113.7:40001')).toBe('203.0.113.7');
    expect(from('203.0.113.7:40002')).toBe('203.0.113.7');
    expect(from('1.1.1.1:1, 203.0.113.7:40003, 10.0.0.9:8080')).toBe('203.0.113.7');
    expect(from('[2001:db8::1]:4711')).toBe('2001:db8::1');
    // All trusted: the left-most, as before, without its port.
    expect(from('10.0.0.7:5000, 10.0.0.9')).toBe('10.0.0.7');
  });

  it('forwarded-for: an entry a trusted proxy wrote that names no address is an unknown client, not that text nor what is left of it', () => {
    const trusted = trustedList(['10.0.0.0/8']);
    const from = (xff: string) => clientBehindTrustedProxies(req('10.0.0.5', { 'x-forwarded-for': xff }), trusted);
    expect(from('unknown')).toBeUndefined();
    // The forged left-most entry is not taken instead.
    expect(from('198.51.100.7, unknown')).toBeUndefined();
    expect(from('198.51.100.7, 203.0.113.7:port')).toBeUndefined();
    expect(stickyKey(stickyKeySource('forwarded-for', ['10.0.0.0/8']), req('10.0.0.5', { 'x-forwarded-for': 'unknown' }))).toBeUndefined();
  });

  it('header and cookie keys; absent means no stickiness', () => {
    expect(stickyKey(stickyKeySource('header:X-Session', []), req('1.1.1.1', { 'x-session': 'abc' }))).toBe('abc');
    expect(stickyKey(stickyKeySource('header:X-Session', []), req('1.1.1.1'))).toBeUndefined();
    expect(stickyKey(stickyKeySource('cookie:sid', []), req('1.1.1.1', { cookie: 'a=1; sid=xyz%20; b=2' }))).toBe('xyz ');
    expect(stickyKey(stickyKeySource('cookie:sid', []), req('1.1.1.1', { cookie: 'a=1' }))).toBeUndefined();
  });
});
