import { isIP } from 'node:net';
import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';

/** Field-level schemas shared by the configuration sections, each with its own user-facing message. */

export const MESSAGES = {
  duration: 'expected a duration like 500ms, 5s, 1m',
  positiveDuration: 'expected a duration greater than 0',
  longDuration: 'expected a duration of at most 596h (Node.js timers cannot wait longer)',
  size: 'expected a size like 512KiB, 10MiB',
  positiveSize: 'expected a size greater than 0',
  positiveInt: 'expected a positive integer',
  workers: 'expected a positive integer or auto',
  integer: 'expected an integer',
  port: 'expected a port number 1-65535',
  endpointName: 'expected 1-64 characters from A-Z a-z 0-9 . _ -',
  url: 'expected a URL like http://127.0.0.1:11434',
  urlProtocol: 'expected an http or https URL',
  urlQuery: 'must not contain a query string or fragment',
  urlCredentials: 'the user name or password has a bad percent-escape (write % as %25)',
  path: 'expected a path starting with "/"',
  envName: 'expected an environment variable name like OPENAI_API_KEY',
  retryStatus: 'expected an HTTP status 400-599',
  healthStatus: 'expected an HTTP status 100-599',
  ratio: 'expected a number from 0 to 1',
  scorerWeight: 'expected a number from 0 to 100',
  nonNegativeInt: 'expected an integer of 0 or more',
  loadFactor: 'expected a number greater than 1',
  retries: 'expected an integer from 0 to 10',
  stickyKey: 'expected ip, forwarded-for, header:<Name> or cookie:<name>',
  ipOrCidr: 'expected an IP address or CIDR like 10.0.0.0/8 or fd00::/8',
  atLeastOneEndpoint: 'expected at least one endpoint',
} as const;

/** A schema's own wording, except for a missing value, which keeps the generic "required". */
export function unlessMissing(message: string) {
  return (issue: { readonly input?: unknown }): string | undefined =>
    issue.input === undefined ? undefined : message;
}

export function integerSchema(message: string) {
  return z.number({ error: unlessMissing(message) }).int({ error: message });
}

export const positiveInt = () => integerSchema(MESSAGES.positiveInt).positive({ error: MESSAGES.positiveInt });
export const port = () => integerSchema(MESSAGES.port).min(1, { error: MESSAGES.port }).max(65535, { error: MESSAGES.port });

/** The longest delay a Node.js timer takes (2^31 - 1 ms, about 596.5 hours). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Durations are strings with units; the number 0 is the one bare value allowed. Output: milliseconds. */
export function duration(options: { allowZero: boolean }) {
  return z
    .union([z.string(), z.number()], { error: unlessMissing(MESSAGES.duration) })
    .transform((value, ctx) => {
      let ms: number;
      try {
        if (typeof value === 'number' && value !== 0) throw new RangeError('bare number');
        ms = typeof value === 'number' ? 0 : parseDuration(value);
      } catch {
        ctx.addIssue({ code: 'custom', message: MESSAGES.duration });
        return z.NEVER;
      }
      if (ms === 0 && !options.allowZero) {
        ctx.addIssue({ code: 'custom', message: MESSAGES.positiveDuration });
        return z.NEVER;
      }
      // A longer timer fires after 1 ms (with a TimeoutOverflowWarning): an interval meant as
      // "practically never" would run back to back.
      if (ms > MAX_TIMER_MS) {
        ctx.addIssue({ code: 'custom', message: MESSAGES.longDuration });
        return z.NEVER;
      }
      return ms;
    });
}

/** Sizes are strings with units or a bare integer of bytes. Output: bytes. */
export function size() {
  return z.union([z.string(), z.number()], { error: unlessMissing(MESSAGES.size) }).transform((value, ctx) => {
    let bytes: number;
    try {
      bytes = parseSize(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: MESSAGES.size });
      return z.NEVER;
    }
    if (bytes === 0) {
      ctx.addIssue({ code: 'custom', message: MESSAGES.positiveSize });
      return z.NEVER;
    }
    return bytes;
  });
}

/** Why a text is not an acceptable endpoint URL, or undefined when it is. */
export function endpointUrlProblem(text: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return MESSAGES.url;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return MESSAGES.urlProtocol;
  if (parsed.search !== '' || parsed.hash !== '' || text.includes('?') || text.includes('#')) return MESSAGES.urlQuery;
  // The credentials become a Basic header, decoded: a bad escape (`%zz`) would fail only then.
  try {
    decodeURIComponent(parsed.username);
    decodeURIComponent(parsed.password);
  } catch {
    return MESSAGES.urlCredentials;
  }
  return undefined;
}

/** Kept as written (credentials included) except for trailing slashes, so a base path joins cleanly with "/health". */
export const endpointUrl = z.string({ error: unlessMissing(MESSAGES.url) }).transform((text, ctx) => {
  const problem = endpointUrlProblem(text);
  if (problem) {
    ctx.addIssue({ code: 'custom', message: problem });
    return z.NEVER;
  }
  return text.replace(/\/+$/, '');
});

/** A path on the endpoint, with an optional query (`/health?ready=1`); a fragment never reaches a server. */
/** A Redis server's URL (`redis://[user:pw@]host:port[/db]`, or `rediss://`), or null for none. */
export const redisUrl = () =>
  z
    .string()
    .refine((u) => /^rediss?:\/\//.test(u) && endpointUrlProblem(u.replace(/^redis/, 'http')) === undefined, { error: 'expected a URL like redis://127.0.0.1:6379' })
    .nullable()
    .default(null);

export const urlPath = () =>
  z
    .string({ error: unlessMissing(MESSAGES.path) })
    .startsWith('/', { error: MESSAGES.path })
    .refine((path) => !path.includes('#'), { error: 'expected a path without a "#" fragment' });

export const STICKY_KEY_PATTERN = /^(ip|forwarded-for|header:[!#$%&'*+.^_`|~0-9A-Za-z-]+|cookie:[!#$%&'*+.^_`|~0-9A-Za-z-]+)$/;

export function isIpOrCidr(text: string): boolean {
  const [address, prefix, ...rest] = text.split('/');
  if (rest.length > 0) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

