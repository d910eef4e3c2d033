import { Redis } from 'ioredis';
import type { RateLimitsConfig } from '../config/index.js';
import { bucketOf, type Bucket, type Decision } from './gcra.js';
import { MemoryBuckets } from './memory-buckets.js';

// The same step in Redis, atomic, on Redis's clock (shared by every replica). The key expires when
// the bucket is full again. Returns {allowed, remaining, waitMs}.
const GCRA_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local emission = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tolerance then
  return {0, 0, math.ceil(tat - now - tolerance)}
end
local nextTat = tat + emission
redis.call('SET', KEYS[1], tostring(nextTat), 'PX', math.ceil(nextTat - now))
return {1, math.floor((tolerance - (nextTat - now)) / emission) + 1, math.ceil(nextTat - now)}
`;

type RedisWithGcra = Redis & { sluiceGcra(key: string, emissionMs: number, toleranceMs: number): Promise<[number, number, number]> };

export type RateVerdict =
  | { readonly kind: 'allowed' | 'limited'; readonly limit: number; readonly remaining: number; readonly resetSeconds: number }
  | { readonly kind: 'store_error'; readonly error: Error };

/**
 * Rate limits per client key: in process memory, or in Redis when `redis_url` is set so that
 * every Sluice replica draws from the same buckets (keys `sluice:rl:gcra:*`). A store failure is
 * reported as `store_error` for the caller to decide on (Sluice fails open); the Redis client never
 * queues commands while disconnected and gives up on one after `redis_timeout`.
 */
export class RateLimit {
  /** `burst`: the most requests a client may send at once (X-RateLimit-Limit). */
  readonly limit: number;
  readonly #bucket: Bucket;
  readonly #redis: RedisWithGcra | undefined;
  readonly #memory: MemoryBuckets;

  constructor(cfg: RateLimitsConfig, onRedisError: (err: Error) => void = () => undefined, now: () => number = Date.now) {
    this.limit = cfg.burst;
    this.#bucket = bucketOf(cfg);
    this.#memory = new MemoryBuckets(this.#bucket, now);
    if (cfg.redis_url !== null) {
      const redis = new Redis(cfg.redis_url, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: cfg.redis_timeout,
        connectTimeout: Math.max(1000, cfg.redis_timeout),
      });
      redis.defineCommand('sluiceGcra', { numberOfKeys: 1, lua: GCRA_LUA });
      redis.on('error', onRedisError);
      this.#redis = redis as RedisWithGcra;
    }
  }

  async consume(key: string): Promise<RateVerdict> {
    if (!this.#redis) return this.#verdict(this.#memory.consume(key));
    try {
      const [allowed, remaining, waitMs] = await this.#redis.sluiceGcra(`sluice:rl:gcra:${key}`, this.#bucket.emissionMs, this.#bucket.toleranceMs);
      return this.#verdict({ allowed: allowed === 1, remaining, waitMs });
    } catch (err) {
      return { kind: 'store_error', error: err instanceof Error ? err : new Error(String(err)) };
    }
  }

  #verdict({ allowed, remaining, waitMs }: Pick<Decision, 'allowed' | 'remaining' | 'waitMs'>): RateVerdict {
    return { kind: allowed ? 'allowed' : 'limited', limit: this.limit, remaining: Math.max(0, remaining), resetSeconds: seconds(waitMs) };
  }

  close(): void {
    this.#redis?.disconnect();
  }
}

/** Whole seconds, at least 1 (headers carry integers; 0 would invite an immediate retry). */
function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
