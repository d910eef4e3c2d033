import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { BlockList } from 'node:net';
import { isTrustedPeer, normalise } from './trusted-proxies.js';

/** RFC 9110 7.6.1 hop-by-hop headers: they describe one connection and are never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * Headers that describe the message itself or that Sluice writes on the upstream request: a
 * `Connection` header cannot make them hop-by-hop (`Connection: host, content-type` would leave
 * the backend a request it cannot read).
 */
const NEVER_HOP_BY_HOP = new Set(['host', 'content-type', 'content-length', 'content-encoding', 'x-request-id', 'authorization', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-real-ip', 'forwarded', 'traceparent', 'tracestate']);

/**
 * Header names that must not cross the proxy: the fixed hop-by-hop set plus any listed in
 * `Connection`. The fixed set itself (no copy) when `Connection` names nothing more, as with
 * the usual `keep-alive` and `close`.
 */
export function hopByHopNames(headers: IncomingHttpHeaders): ReadonlySet<string> {
  const connection = headers.connection;
  if (!connection || connection === 'keep-alive' || connection === 'close') return HOP_BY_HOP;
  let names: Set<string> | undefined;
  for (const n of connection.split(',')) {
    const name = n.trim().toLowerCase();
    if (name && !HOP_BY_HOP.has(name) && !NEVER_HOP_BY_HOP.has(name)) (names ??= new Set(HOP_BY_HOP)).add(name);
  }
  return names ?? HOP_BY_HOP;
}

/** Response headers to send the client: the backend's minus hop-by-hop ones. */
export function responseHeaders(upstream: IncomingHttpHeaders): OutgoingHttpHeaders {
  const drop = hopByHopNames(upstream);
  const out: OutgoingHttpHeaders = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value !== undefined && !drop.has(name)) out[name] = value;
  }
  return out;
}

const REQUEST_ID_MAX = 128;
const REQUEST_ID_UNSAFE = /[^A-Za-z0-9._:@/+=-]/g;

/** Keeps a client's X-Request-ID when it is usable (unsafe characters removed, length capped), else makes one. */
export function requestIdFor(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  const raw = Array.isArray(incoming) ? incoming[0] : incoming;
  if (raw) {
    const clean = raw.replace(REQUEST_ID_UNSAFE, '').slice(0, REQUEST_ID_MAX);
    if (clean) return clean;
  }
  return randomUUID();
}

/** Client-address headers a client could forge: believed only from a trusted proxy. */
export const CLIENT_ADDRESS_HEADERS = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-real-ip', 'forwarded'] as const;

/** The same names, to look up. */
export const CLIENT_ADDRESS_NAMES: ReadonlySet<string> = new Set(CLIENT_ADDRESS_HEADERS);

/**
 * The client-address headers for the upstream request. From a trusted proxy (`server.trusted_proxies`),
 * the chain it sent is kept and this hop appended; from anyone else, whatever the client wrote
 * is replaced by what Sluice saw, and any other `X-Forwarded-*` it sent (`-Port`, `-Prefix`,
 * `-Server`, ...) is dropped, as is `Forwarded`: an empty value means "remove".
 */
export function forwardedHeaders(req: IncomingMessage, trusted: BlockList): Record<string, string> {
  const remote = normalise(req.socket.remoteAddress) ?? '';
  const encrypted = 'encrypted' in req.socket && Boolean(req.socket.encrypted);
  const ownProto = encrypted ? 'https' : 'http';
  const ownHost = req.headers.host ?? '';
  if (!remote || !isTrustedPeer(trusted, req.socket, remote)) {
    const own: Record<string, string> = { 'x-forwarded-for': remote, 'x-forwarded-proto': ownProto, 'x-forwarded-host': ownHost, 'x-real-ip': remote, forwarded: '' };
    for (const name in req.headers) if (name.startsWith('x-forwarded-') && !CLIENT_ADDRESS_NAMES.has(name)) own[name] = '';
    return own;
  }
  const h = req.headers;
  const prior = h['x-forwarded-for'];
  return {
    'x-forwarded-for': prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${remote}` : remote,
    'x-forwarded-proto': first(h['x-forwarded-proto']) ?? ownProto,
    'x-forwarded-host': first(h['x-forwarded-host']) ?? ownHost,
    'x-real-ip': first(h['x-real-ip']) ?? remote,
    forwarded: first(h.forwarded) ?? '',
  };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
