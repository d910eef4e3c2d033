import { decide, type Bucket, type Decision } from './gcra.js';

/** How many idle clients the store holds before it drops those whose buckets are full again. */
const SWEEP_AT = 10_000;

/**
 * GCRA buckets in process memory, one TAT per client key. A client whose bucket is full again is
 * as if never seen, so such entries are swept out once the store grows past SWEEP_AT. The bucket's
 * size and rate come with each call: a reload that changes them keeps every client's TAT, as the
 * Redis store does.
 */
export class MemoryBuckets {
  readonly #now: () => number;
  readonly #tats = new Map<string, number>();
  /** The store's size at which full buckets are next dropped (doubles while the clients are all active). */
  #sweepAt = SWEEP_AT;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** Takes one request from `key`'s bucket when it has room; a refused request takes nothing. */
  consume(key: string, bucket: Bucket): Decision {
    const now = this.#now();
    const decision = decide(bucket, this.#tats.get(key), now);
    if (decision.allowed) {
      if (this.#tats.size >= this.#sweepAt && !this.#tats.has(key)) this.#sweep(now);
      this.#tats.set(key, decision.tat);
    }
    return decision;
  }

  /** Milliseconds until `key` may pass again, 0 when it may now; takes nothing. */
  waitMs(key: string, bucket: Bucket): number {
    const tat = this.#tats.get(key);
    if (tat === undefined) return 0;
    return Math.max(0, tat - this.#now() - bucket.toleranceMs);
  }

  /** Drops the clients whose buckets are full again: they are as if never seen. */
  #sweep(now: number): void {
    for (const [key, tat] of this.#tats) if (tat <= now) this.#tats.delete(key);
    this.#sweepAt = Math.max(SWEEP_AT, 2 * this.#tats.size);
  }
}
