import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';

/** RFC 9110 7.6.1 hop-by-hop headers: they describe one connection and are never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Header names that must not cross the proxy: the fixed hop-by-hop set plus any listed in `Connection`. */
export function hopByHopNames(headers: IncomingHttpHeaders): Set<string> {
  const connection = headers.connection;
  if (!connection) return HOP_BY_HOP;
  const names = new Set(HOP_BY_HOP);
  for (const n of connection.split(',')) names.add(n.trim().toLowerCase());
  return names;
}

/** Response headers to send the client: the backend's minus hop-by-hop ones. */
export function responseHeaders(upstream: IncomingHttpHeaders): OutgoingHttpHeaders {
  const drop = hopByHopNames(upstream);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream)) if (value !== undefined && !drop.has(name)) out[name] = value;
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

/** The X-Forwarded-* values this hop adds (appending to any chain already present). */
export function forwardedHeaders(req: IncomingMessage): Record<string, string> {
  const remote = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  const priorProto = req.headers['x-forwarded-proto'];
  const priorHost = req.headers['x-forwarded-host'];
  const encrypted = 'encrypted' in req.socket && Boolean(req.socket.encrypted);
  return {
    'x-forwarded-for': prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${remote}` : remote,
    'x-forwarded-proto': (Array.isArray(priorProto) ? priorProto[0] : priorProto) ?? (encrypted ? 'https' : 'http'),
    'x-forwarded-host': (Array.isArray(priorHost) ? priorHost[0] : priorHost) ?? req.headers.host ?? '',
  };
}
