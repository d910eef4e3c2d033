import type { RateLimitsConfig } from '../config/index.js';
import type { Bucket, Decision } from './gcra.js';
import { MemoryBuckets } from './memory-buckets.js';
import { RedisBuckets } from './redis-buckets.js';

export type BucketStep = Pick<Decision, 'allowed' | 'remaining' | 'waitMs'>;

/** Where the rate limits' buckets are kept: process memory or Redis. The bucket's size and rate come with each request. */
export interface BucketStore {
  /** Able to answer now (memory always; Redis once connected). */
  readonly isReady: boolean;
  /** Resolves when the store is ready, or when it will not be soon (Redis: after a connection attempt's timeout). */
  ready(): Promise<void>;
  /** Rejects when the store cannot answer. */
  consume(key: string, bucket: Bucket): BucketStep | Promise<BucketStep>;
  close(): void;
}

/** The settings a store is opened with: a reload that keeps them keeps the store (its connection, and every client's bucket). */
export function sameStore(a: RateLimitsConfig, b: RateLimitsConfig): boolean {
  if (a.redis_url === null || b.redis_url === null) return a.redis_url === b.redis_url;
  return a.redis_url === b.redis_url && a.redis_timeout === b.redis_timeout;
}

/** The store `rate_limits` asks for: Redis when `redis_url` is set, otherwise this process's memory. */
export function openBucketStore(cfg: RateLimitsConfig, onRedisError: (err: Error) => void = () => undefined, now: () => number = Date.now): BucketStore {
  if (cfg.redis_url !== null) return new RedisBuckets(cfg.redis_url, cfg.redis_timeout, onRedisError);
  const memory = new MemoryBuckets(now);
  return {
    isReady: true,
    ready: () => Promise.resolve(),
    consume: (key, bucket) => memory.consume(key, bucket),
    close: () => undefined,
  };
}
