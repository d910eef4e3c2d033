import { Redis } from 'ioredis';
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimitsConfig } from '../config/index.js';

/** One fixed window of rate-limiter-flexible: `points` requests per `durationSeconds`. */
export interface Window {
  readonly points: number;
  readonly durationSeconds: number;
}

/**
 * The two windows that give `rate` per `period` with bursts up to `burst` (see the README):
 * a steady window of `rate` per `period`, and a reserve of `burst - rate` that is drawn on only
 * when the steady window is empty and comes back after the time the steady rate needs to
 * earn it again. From idle, `burst` requests pass at once; a saturated client gets `rate` per
 * period plus the reserve once per reserve window.
 */
export function rateWindows(cfg: Pick<RateLimitsConfig, 'rate' | 'period' | 'burst'>): { steady: Window; reserve: Window | undefined } {
  const periodSeconds = cfg.period / 1000;
  const steady = { points: cfg.rate, durationSeconds: periodSeconds };
  const extra = cfg.burst - cfg.rate;
  if (extra <= 0) return { steady, reserve: undefined };
  return { steady, reserve: { points: extra, durationSeconds: Math.ceil((extra / cfg.rate) * periodSeconds) } };
}

export type RateVerdict =
  | { readonly kind: 'allowed' | 'limited'; readonly limit: number; readonly remaining: number; readonly resetSeconds: number }
  | { readonly kind: 'store_error'; readonly error: Error };

interface Consumer {
  consume(key: string): Promise<RateLimiterRes>;
}

/**
 * Rate limits through rate-limiter-flexible: in process memory, or in Redis when `redis_url` is
 * set so that every Sluice replica draws from the same budget. A store failure is reported as
 * `store_error` for the caller to decide on (Sluice fails open); the Redis client never queues
 * commands while disconnected and gives up on one after `redis_timeout`.
 */
export class RateLimit {
  readonly limit: number;
  readonly #consumer: Consumer;
  readonly #redis: Redis | undefined;

  constructor(cfg: RateLimitsConfig, onRedisError: (err: Error) => void = () => undefined) {
    const { steady, reserve } = rateWindows(cfg);
    this.limit = steady.points;
    if (cfg.redis_url !== null) {
      this.#redis = new Redis(cfg.redis_url, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: cfg.redis_timeout,
        connectTimeout: Math.max(1000, cfg.redis_timeout),
      });
      this.#redis.on('error', onRedisError);
    }
    const make = (w: Window, prefix: string): RateLimiterAbstract =>
      this.#redis
        ? new RateLimiterRedis({ storeClient: this.#redis, rejectIfRedisNotReady: true, keyPrefix: `sluice:rl:${prefix}`, points: w.points, duration: w.durationSeconds })
        : new RateLimiterMemory({ keyPrefix: prefix, points: w.points, duration: w.durationSeconds });
    const main = make(steady, 'steady');
    this.#consumer = reserve ? new BurstyRateLimiter(main, make(reserve, 'reserve')) : main;
  }

  async consume(key: string): Promise<RateVerdict> {
    try {
      const res = await this.#consumer.consume(key);
      return { kind: 'allowed', limit: this.limit, remaining: res.remainingPoints, resetSeconds: seconds(res.msBeforeNext) };
    } catch (err) {
      if (err instanceof RateLimiterRes) return { kind: 'limited', limit: this.limit, remaining: 0, resetSeconds: seconds(err.msBeforeNext) };
      return { kind: 'store_error', error: err instanceof Error ? err : new Error(String(err)) };
    }
  }

  close(): void {
    this.#redis?.disconnect();
  }
}

/** Whole seconds, at least 1 (headers carry integers; 0 would invite an immediate retry). */
function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
