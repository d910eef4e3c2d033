import { bucketOf, type Bucket } from './gcra.js';
import { MemoryBuckets } from './memory-buckets.js';

/**
 * How many wrong API keys a client address may present: `perMinute` at once from idle, then
 * `perMinute` a minute (a token bucket, as the rate limits keep it). Past that, the address's
 * requests that carry a key are refused without the key being looked at, so guessing keys runs
 * at that pace at most. Correct keys take nothing; requests without a key have nothing to guess.
 * In process memory: each Sluice process counts what it sees.
 */
export class InvalidKeyLimit {
  readonly perMinute: number;
  readonly #bucket: Bucket;
  readonly #buckets: MemoryBuckets;

  constructor(perMinute: number, now: () => number = Date.now) {
    this.perMinute = perMinute;
    this.#bucket = bucketOf({ rate: perMinute, period: 60_000, burst: perMinute });
    this.#buckets = new MemoryBuckets(now);
  }

  /** Whole seconds (at least 1) until `address` may present a key again, or undefined when it may now. */
  retryAfterSeconds(address: string): number | undefined {
    const waitMs = this.#buckets.waitMs(address, this.#bucket);
    return waitMs > 0 ? Math.max(1, Math.ceil(waitMs / 1000)) : undefined;
  }

  /** `address` presented a key that matches none. */
  failed(address: string): void {
    this.#buckets.consume(address, this.#bucket);
  }
}
