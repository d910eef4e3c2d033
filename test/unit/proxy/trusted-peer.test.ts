import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isTrustedPeer, trustedList } from '../../../src/proxy/trusted-proxies.js';

describe('isTrustedPeer', () => {
  it('answers per connection, and again when the list changes (a reload)', () => {
    const socket = {} as Socket;
    const lan = trustedList(['10.0.0.0/8']);
    expect(isTrustedPeer(lan, socket, '10.1.2.3')).toBe(true);
    // The same connection keeps its verdict for the same list.
    expect(isTrustedPeer(lan, socket, '10.1.2.3')).toBe(true);
    expect(isTrustedPeer(trustedList([]), socket, '10.1.2.3')).toBe(false);
    expect(isTrustedPeer(lan, {} as Socket, '192.0.2.1')).toBe(false);
  });
});
