import { isIPv6 } from 'node:net';
import type { EndpointConfig } from '../config/index.js';

/** Addresses a `discover: dns` endpoint's host resolved to, by configured endpoint name. */
export type Answers = ReadonlyMap<string, readonly string[]>;

/** The port an endpoint URL talks to (its own, or the scheme's default). */
export function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/** A stable member name: `<name>@<address>:<port>` (IPv6 in brackets), the `endpoint` label of its metrics. */
export function memberName(name: string, address: string, port: number): string {
  return `${name}@${hostOf(address)}:${port}`;
}

/**
 * The endpoints to run: configured endpoints as they are, and each `discover: dns` endpoint
 * replaced by one endpoint per address in its last answer (none before the first answer).
 * Members keep every setting of the configured endpoint; only the name and the URL's host differ.
 */
export function expandEndpoints(configs: readonly EndpointConfig[], answers: Answers): EndpointConfig[] {
  return configs.flatMap((config) => {
    if (config.discover !== 'dns') return [config];
    const port = portOf(new URL(config.url));
    return [...new Set(answers.get(config.name) ?? [])].sort().map((address) => {
      const url = new URL(config.url);
      url.hostname = hostOf(address);
      return { ...config, name: memberName(config.name, address, port), url: url.href };
    });
  });
}

/** The host to resolve for an endpoint URL (IPv6 without brackets). */
export function hostToResolve(url: string): string {
  return new URL(url).hostname.replace(/^\[|\]$/g, '');
}

function hostOf(address: string): string {
  return isIPv6(address) ? `[${address}]` : address;
}
