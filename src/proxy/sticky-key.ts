import { isIP, type BlockList } from 'node:net';
import { parse as parseCookie } from 'cookie';
import { isTrusted, normalise, trustedList } from './trusted-proxies.js';
import type { IncomingMessage } from 'node:http';

export type StickyKeySource =
  | { readonly kind: 'ip' }
  | { readonly kind: 'forwarded-for'; readonly trusted: BlockList }
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string };

/** Parses `balancing.sticky.key` (ip | forwarded-for | header:<Name> | cookie:<name>). */
export function stickyKeySource(key: string, trustedProxies: readonly string[]): StickyKeySource {
  if (key === 'ip') return { kind: 'ip' };
  if (key === 'forwarded-for') return { kind: 'forwarded-for', trusted: trustedList(trustedProxies) };
  if (key.startsWith('header:')) return { kind: 'header', name: key.slice('header:'.length).toLowerCase() };
  if (key.startsWith('cookie:')) return { kind: 'cookie', name: key.slice('cookie:'.length) };
  throw new Error(`unsupported sticky key "${key}"`);
}

/** The key a request is pinned by, or undefined when it carries none (then it is balanced normally). */
export function stickyKey(source: StickyKeySource, req: IncomingMessage): string | undefined {
  switch (source.kind) {
    case 'ip':
      return normalise(req.socket.remoteAddress);
    case 'forwarded-for':
      return clientBehindTrustedProxies(req, source.trusted);
    case 'header': {
      const v = req.headers[source.name];
      return (Array.isArray(v) ? v[0] : v) || undefined;
    }
    case 'cookie':
      return cookieValue(req.headers.cookie, source.name);
  }
}

/**
 * The right-most address in X-Forwarded-For (plus the peer) that is not a trusted proxy.
 * Clients can put anything at the left of the header, so only addresses appended by our own
 * proxies are believed; an untrusted peer is the client whatever the header says. An entry with a
 * port names its address (see `forwardedAddress`); when the entry a trusted proxy appended names
 * no address at all (`unknown`, an obfuscated name), the client is unknown: undefined, never that
 * text, nor an entry further left, which the client may have written.
 */
export function clientBehindTrustedProxies(req: IncomingMessage, trusted: BlockList): string | undefined {
  const header = req.headers['x-forwarded-for'];
  const chain = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const peer = normalise(req.socket.remoteAddress);
  if (peer) chain.push(peer);
  for (let i = chain.length - 1; i >= 0; i--) {
    const addr = forwardedAddress(chain[i]!);
    if (addr === undefined || !isTrusted(trusted, addr)) return addr;
  }
  return chain.length === 0 ? undefined : forwardedAddress(chain[0]!);
}

/**
 * The IP address in one X-Forwarded-For entry, or undefined when there is none. Some proxies append
 * the client's port (Azure Application Gateway: `203.0.113.7:4711`, `[2001:db8::1]:4711`), some
 * quote it as RFC 7239's `for=` does (`"[2001:db8::1]:4711"`): without the port, each new
 * connection would count as a new client. An IPv6 address without brackets is taken whole (its
 * last group is not a port).
 */
export function forwardedAddress(entry: string): string | undefined {
  let value = entry.trim();
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1).trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(value);
  const ipv4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(value);
  const address = normalise(bracketed?.[1] ?? ipv4WithPort?.[1] ?? value);
  return address !== undefined && isIP(address) !== 0 ? address : undefined;
}

/** A cookie's value; a malformed header or value (e.g. `sid=%`) never throws, it is taken as written. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  return parseCookie(header)[name] || undefined;
}
