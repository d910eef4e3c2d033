import { isDeepStrictEqual } from 'node:util';
import type { RateLimitsConfig } from '../config/index.js';
import type { BucketStore } from './bucket-stores.js';
import { RateLimit } from './rate-limit.js';

/**
 * The rate limiter in use, across reloads. A reload that keeps the store's settings (memory, or
 * the same `redis_url` and `redis_timeout`) keeps the store, so the Redis connection and every
 * client's bucket, and changes only the bucket. One that changes them opens the new store and
 * keeps using the limiter in use (none when limits were off) until the new one is ready, connected
 * to Redis, or until one connection attempt's timeout has passed; then it closes the old store.
 * Swapping at once would let every request through unlimited until the new connection is up, each
 * counted as a store error. At start, likewise, limits apply once the store is ready.
 */
export class RateLimiters {
  readonly #open: (cfg: RateLimitsConfig) => BucketStore;
  #config: RateLimitsConfig | null = null;
  #current: RateLimit | undefined;
  /** A limiter over a new store, waiting for it to be ready. */
  #pending: RateLimit | undefined;

  constructor(open: (cfg: RateLimitsConfig) => BucketStore) {
    this.#open = open;
  }

  /** The limiter requests are counted against now; undefined: none (off, or the first store not ready yet). */
  get current(): RateLimit | undefined {
    return this.#current;
  }

  apply(cfg: RateLimitsConfig | null): void {
    if (isDeepStrictEqual(cfg, this.#config)) return;
    this.#config = cfg;
    const pending = this.#pending;
    this.#pending = undefined;
    if (cfg === null) {
      pending?.close();
      this.#replaceCurrent(undefined);
      return;
    }
    // Still waiting for that store: keep waiting, with this bucket.
    if (pending?.sameStore(cfg)) return this.#switchTo(pending.withBucket(cfg));
    pending?.close();
    if (this.#current?.sameStore(cfg)) {
      this.#current = this.#current.withBucket(cfg);
      return;
    }
    this.#switchTo(new RateLimit(cfg, this.#open(cfg)));
  }

  close(): void {
    this.#pending?.close();
    this.#pending = undefined;
    this.#replaceCurrent(undefined);
    this.#config = null;
  }

  #switchTo(next: RateLimit): void {
    if (next.isReady) return this.#replaceCurrent(next);
    this.#pending = next;
    void next.ready().then(() => {
      // Superseded by a later reload meanwhile (which closed it, or took its store over).
      if (this.#pending !== next) return;
      this.#pending = undefined;
      this.#replaceCurrent(next);
    });
  }

  /** Only ever called with a limiter over another store than the current one's. */
  #replaceCurrent(next: RateLimit | undefined): void {
    const previous = this.#current;
    this.#current = next;
    previous?.close();
  }
}
