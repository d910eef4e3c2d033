import type { RateLimitsConfig } from '../config/index.js';
import { sameStore, type BucketStep, type BucketStore } from './bucket-stores.js';
import { bucketOf, type Bucket } from './gcra.js';

export type RateVerdict =
  | { readonly kind: 'allowed' | 'limited'; readonly limit: number; readonly remaining: number; readonly resetSeconds: number }
  | { readonly kind: 'store_error'; readonly error: Error };

/**
 * Rate limits per client key, one configuration's bucket (`rate` per `period`, `burst` at once)
 * over a store: process memory, or Redis when `redis_url` is set so that every Sluice replica
 * draws from the same buckets. A store failure is reported as `store_error` for the caller to
 * decide on (Sluice fails open).
 */
export class RateLimit {
  /** `burst`: the most requests a client may send at once (X-RateLimit-Limit). */
  readonly limit: number;
  readonly config: RateLimitsConfig;
  readonly #bucket: Bucket;
  readonly #store: BucketStore;

  constructor(cfg: RateLimitsConfig, store: BucketStore) {
    this.config = cfg;
    this.limit = cfg.burst;
    this.#bucket = bucketOf(cfg);
    this.#store = store;
  }

  /** Whether `cfg` would be kept in this limiter's store (the same memory, or the same Redis connection settings). */
  sameStore(cfg: RateLimitsConfig): boolean {
    return sameStore(this.config, cfg);
  }

  /** `cfg`'s bucket over this limiter's store; closing either closes the store they share. */
  withBucket(cfg: RateLimitsConfig): RateLimit {
    return new RateLimit(cfg, this.#store);
  }

  get isReady(): boolean {
    return this.#store.isReady;
  }

  ready(): Promise<void> {
    return this.#store.ready();
  }

  async consume(key: string): Promise<RateVerdict> {
    try {
      return this.#verdict(await this.#store.consume(key, this.#bucket));
    } catch (err) {
      return { kind: 'store_error', error: err instanceof Error ? err : new Error(String(err)) };
    }
  }

  #verdict({ allowed, remaining, waitMs }: BucketStep): RateVerdict {
    return { kind: allowed ? 'allowed' : 'limited', limit: this.limit, remaining: Math.max(0, remaining), resetSeconds: seconds(waitMs) };
  }

  close(): void {
    this.#store.close();
  }
}

/** Whole seconds, at least 1 (headers carry integers; 0 would invite an immediate retry). */
function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
