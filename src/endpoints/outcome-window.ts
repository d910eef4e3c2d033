export interface OutcomeCounts {
  readonly successes: number;
  readonly failures: number;
}

const DEFAULT_BUCKETS = 60;

/**
 * Success/failure counts over a sliding time window in constant memory: a ring of buckets
 * (one second each for a 60 s window). A bucket is reused once its time slot has passed, so
 * the window slides in steps of one bucket: outcomes count for between windowMs - bucketMs
 * and windowMs after they were recorded.
 */
export class OutcomeWindow {
  readonly #bucketMs: number;
  readonly #now: () => number;
  // Which time slot (now / bucketMs, floored) each ring position currently holds.
  readonly #slots: number[];
  readonly #successes: number[];
  readonly #failures: number[];

  constructor(windowMs: number, now: () => number, bucketCount = DEFAULT_BUCKETS) {
    const buckets = Math.max(1, Math.floor(bucketCount));
    this.#bucketMs = Math.max(1, windowMs / buckets);
    this.#now = now;
    this.#slots = new Array<number>(buckets).fill(Number.NEGATIVE_INFINITY);
    this.#successes = new Array<number>(buckets).fill(0);
    this.#failures = new Array<number>(buckets).fill(0);
  }

  record(outcome: 'success' | 'failure'): void {
    const slot = this.#currentSlot();
    const index = this.#indexOf(slot);
    if (this.#slots[index] !== slot) {
      this.#slots[index] = slot;
      this.#successes[index] = 0;
      this.#failures[index] = 0;
    }
    if (outcome === 'success') this.#successes[index]!++;
    else this.#failures[index]!++;
  }

  counts(): OutcomeCounts {
    const current = this.#currentSlot();
    const oldest = current - this.#slots.length + 1;
    let successes = 0;
    let failures = 0;
    for (let index = 0; index < this.#slots.length; index++) {
      const slot = this.#slots[index]!;
      if (slot < oldest || slot > current) continue;
      successes += this.#successes[index]!;
      failures += this.#failures[index]!;
    }
    return { successes, failures };
  }

  #currentSlot(): number {
    return Math.floor(this.#now() / this.#bucketMs);
  }

  #indexOf(slot: number): number {
    const length = this.#slots.length;
    return ((slot % length) + length) % length;
  }
}
