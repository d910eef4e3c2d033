import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface NamedKey {
  readonly name: string;
  readonly key: string;
}

/** A configured key as Sluice keeps it: its name and the SHA-256 digest of the key (hex). */
export interface KeyDigest {
  readonly name: string;
  readonly sha256: string;
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** The digests of keys just read, the keys themselves left behind (a cluster's primary sends these to its workers). */
export function digestKeys(keys: readonly NamedKey[]): KeyDigest[] {
  return keys.map((k) => ({ name: k.name, sha256: digest(k.key).toString('hex') }));
}

/**
 * The configured inbound API keys. Only SHA-256 digests are kept; a presented key is compared
 * with every configured one in constant time (equal-length digests, timingSafeEqual, no early
 * exit), so neither the key's length nor its position in the list shows in the timing.
 */
export class ApiKeyRing {
  readonly #entries: ReadonlyArray<{ readonly name: string; readonly digest: Buffer }>;

  constructor(keys: readonly KeyDigest[]) {
    this.#entries = keys.map((k) => ({ name: k.name, digest: Buffer.from(k.sha256, 'hex') }));
  }

  get size(): number {
    return this.#entries.length;
  }

  get names(): string[] {
    return this.#entries.map((e) => e.name);
  }

  /** The configured name of the first of the presented keys that matches one; every key is compared. */
  nameOfAny(presented: readonly string[]): string | undefined {
    const names = presented.map((key) => this.nameOf(key));
    return names.find((name) => name !== undefined);
  }

  /** The configured name of a presented key, or undefined when it matches none. */
  nameOf(presented: string): string | undefined {
    const candidate = digest(presented);
    let found: string | undefined;
    for (const e of this.#entries) if (timingSafeEqual(candidate, e.digest) && found === undefined) found = e.name;
    return found;
  }
}

/**
 * The keys a client sent, distinct: `Authorization: Bearer <key>` (OpenAI clients), then
 * `x-api-key: <key>` (Anthropic clients). Both may come at once, say when a gateway in front adds
 * its own Authorization to a client's x-api-key; then either may be the key.
 */
export function presentedKeys(headers: IncomingHttpHeaders): string[] {
  const keys: string[] = [];
  const token = bearerToken(headers.authorization);
  if (token !== undefined) keys.push(token);
  const header = headers['x-api-key'];
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (value && value !== token) keys.push(value);
  return keys;
}

/** The token in `Authorization: Bearer <token>`, or undefined for another scheme or none. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)?.[1];
}
