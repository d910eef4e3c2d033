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

/** The GCRA step, pure: the same arithmetic as the Redis script in rate-limit.ts. */
export function decide(bucket: Bucket, storedTat: number | undefined, now: number): Decision {
  const tat = Math.max(storedTat ?? now, now);
  if (tat - now > bucket.toleranceMs) return { allowed: false, tat, remaining: 0, waitMs: tat - now - bucket.toleranceMs };
  const next = tat + bucket.emissionMs;
  return { allowed: true, tat: next, remaining: Math.floor((bucket.toleranceMs - (next - now)) / bucket.emissionMs) + 1, waitMs: next - now };
}
