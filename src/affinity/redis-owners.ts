import { Redis } from 'ioredis';
import type { SharedOwnerStore } from './directory.js';
import type { ResponseOwner } from './stored-responses.js';

const KEY_PREFIX = 'sluice:resp:';

/**
 * Stored responses' owners in Redis (keys `sluice:resp:<id>`, each expiring after the TTL), shared
 * by every replica pointing at it: a follow-up that reaches another replica than the one that saw
 * the response created finds its owner there. As the rate limits' store, the client never queues
 * commands while disconnected and gives up on one after `timeoutMs`: an owner that cannot be read
 * is unknown (the request is routed as any other), one that cannot be written is reported to
 * `onError`. (ioredis's String subclass is undone where access/ loads it: string-prototype.ts.)
 */
export class RedisOwners implements SharedOwnerStore {
  readonly #redis: Redis;
  readonly #ttlMs: number;
  readonly #onError: (err: Error) => void;

  constructor(url: string, timeoutMs: number, ttlMs: number, onError: (err: Error) => void) {
    this.#redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: timeoutMs, connectTimeout: Math.max(1000, timeoutMs) });
    this.#redis.on('error', onError);
    this.#ttlMs = ttlMs;
    this.#onError = onError;
  }

  /** The owner of response `id` as some replica wrote it; undefined when none did; 'error' when Redis cannot answer. */
  async owner(id: string): Promise<ResponseOwner | undefined | 'error'> {
    try {
      return parseOwner(await this.#redis.get(KEY_PREFIX + id));
    } catch (err) {
      this.#onError(err instanceof Error ? err : new Error(String(err)));
      return 'error';
    }
  }

  /** Written at once (the command goes out before the answer that carries the id reaches its client). */
  remember(id: string, owner: ResponseOwner): void {
    this.#redis.set(KEY_PREFIX + id, JSON.stringify(owner), 'PX', this.#ttlMs).catch(this.#onError);
  }

  forget(id: string): void {
    this.#redis.del(KEY_PREFIX + id).catch(this.#onError);
  }

  close(): void {
    this.#redis.disconnect();
  }
}

/** An owner as written by remember; undefined for anything else under the key. */
function parseOwner(text: string | null): ResponseOwner | undefined {
  if (text === null) return undefined;
  try {
    const value = JSON.parse(text) as { endpoint?: unknown; backend?: unknown } | null;
    if (typeof value?.endpoint === 'string' && typeof value.backend === 'string') return { endpoint: value.endpoint, backend: value.backend };
  } catch {
    // Not one of ours: unknown.
  }
  return undefined;
}
