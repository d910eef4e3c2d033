import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface NamedKey {
  readonly name: string;
  readonly key: string;
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * The configured inbound API keys. Only SHA-256 digests are kept; a presented key is compared
 * with every configured one in constant time (equal-length digests, timingSafeEqual, no early
 * exit), so neither the key's length nor its position in the list shows in the timing.
 */
export class ApiKeyRing {
  readonly #entries: ReadonlyArray<{ readonly name: string; readonly digest: Buffer }>;

  constructor(keys: readonly NamedKey[]) {
    this.#entries = keys.map((k) => ({ name: k.name, digest: digest(k.key) }));
  }

  get size(): number {
    return this.#entries.length;
  }

  get names(): string[] {
    return this.#entries.map((e) => e.name);
  }

  /** The configured name of a presented key, or undefined when it matches none. */
  nameOf(presented: string): string | undefined {
    const candidate = digest(presented);
    let found: string | undefined;
    for (const e of this.#entries) if (timingSafeEqual(candidate, e.digest) && found === undefined) found = e.name;
    return found;
  }
}

/** The key a client sent: `Authorization: Bearer <key>` (OpenAI clients) or `x-api-key: <key>`. */
export function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (auth !== undefined) {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth);
    if (match) return match[1];
  }
  const header = headers['x-api-key'];
  const value = Array.isArray(header) ? header[0] : header;
  return value?.trim() || undefined;
}
