import type { Url } from 'node:url';

/**
 * An endpoint's base URL in the shape http-proxy reads a target in (the fields of a legacy
 * `url.parse` result it uses: protocol, host, hostname, port and path), made once per endpoint.
 * Given the URL as a string, http-proxy parses it again with `url.parse` on every request,
 * which was about 2% of the CPU Sluice spends per request (CPU profile under `npm run bench`).
 */
export function proxyTarget(url: URL): Partial<Url> {
  // WHATWG keeps an IPv6 literal's brackets in `hostname`; a socket connects to the bare address.
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { protocol: url.protocol, host: url.host, hostname, port: url.port || null, path: url.pathname + url.search };
}
