import { Redis } from 'ioredis';
import type { RateLimitsConfig } from '../config/index.js';

/**
 * A token bucket of `burst` requests that fills at `rate` per `period`, as the generic cell rate
 * algorithm (GCRA) keeps it: one number per client, the time at which its bucket would be full
 * again (its theoretical arrival time, TAT). A request at `now` is admitted when
 * `TAT - now <= tolerance`, and then moves TAT on by one emission interval. From idle, `burst`
 * requests pass at once; a client that keeps sending gets exactly `rate` per `period`.
 */
export interface Bucket {
  /** Milliseconds one request costs: `period / rate`. */
  readonly emissionMs: number;
  /** How far ahead of now TAT may be for a request to pass: `(burst - 1)` emission intervals. */
  readonly toleranceMs: number;
}

export function bucketOf(cfg: Pick<RateLimitsConfig, 'rate' | 'period' | 'burst'>): Bucket {
  const emissionMs = cfg.period / cfg.rate;
  return { emissionMs, toleranceMs: (cfg.burst - 1) * emissionMs };
}

/** One request's outcome against a client's TAT (undefined: never seen, or full again). */
export interface Decision {
  readonly allowed: boolean;
  /** The client's TAT from now on (unchanged when refused). */
  readonly tat: number;
  /** Requests that would still pass at once after this one. */
  readonly remaining: number;
  /** Milliseconds until the next request may pass (refused), or until the bucket is full again (admitted). */
  readonly waitMs: number;
}

/** The GCRA step, pure: the same arithmetic as the Redis script below. */
export function decide(bucket: Bucket, storedTat: number | undefined, now: number): Decision {
  const tat = Math.max(storedTat ?? now, now);
  if (tat - now > bucket.toleranceMs) return { allowed: false, tat, remaining: 0, waitMs: tat - now - bucket.toleranceMs };
  const next = tat + bucket.emissionMs;
  return { allowed: true, tat: next, remaining: Math.floor((bucket.toleranceMs - (next - now)) / bucket.emissionMs) + 1, waitMs: next - now };
}

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

/** How many idle clients the in-memory store holds before it drops those whose buckets are full again. */
const SWEEP_AT = 10_000;

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
  readonly #tats = new Map<string, number>();
  /** The store's size at which full buckets are next dropped (doubles while the clients are all active). */
  #sweepAt = SWEEP_AT;
  readonly #now: () => number;

  constructor(cfg: RateLimitsConfig, onRedisError: (err: Error) => void = () => undefined, now: () => number = Date.now) {
    this.limit = cfg.burst;
    this.#bucket = bucketOf(cfg);
    this.#now = now;
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
    if (!this.#redis) return this.#verdict(this.#consumeInMemory(key));
    try {
      const [allowed, remaining, waitMs] = await this.#redis.sluiceGcra(`sluice:rl:gcra:${key}`, this.#bucket.emissionMs, this.#bucket.toleranceMs);
      return this.#verdict({ allowed: allowed === 1, remaining, waitMs });
    } catch (err) {
      return { kind: 'store_error', error: err instanceof Error ? err : new Error(String(err)) };
    }
  }

  #consumeInMemory(key: string): Pick<Decision, 'allowed' | 'remaining' | 'waitMs'> {
    const now = this.#now();
    const decision = decide(this.#bucket, this.#tats.get(key), now);
    if (decision.allowed) {
      if (this.#tats.size >= this.#sweepAt && !this.#tats.has(key)) this.#sweep(now);
      this.#tats.set(key, decision.tat);
    }
    return decision;
  }

  /** Drops the clients whose buckets are full again: they are as if never seen. */
  #sweep(now: number): void {
    for (const [key, tat] of this.#tats) if (tat <= now) this.#tats.delete(key);
    this.#sweepAt = Math.max(SWEEP_AT, 2 * this.#tats.size);
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
