/** Delay before restarting a worker that died: doubles per crash in a row, capped. */
export interface RestartPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
  /** A worker that ran at least this long before dying starts the count over. */
  readonly stableAfterMs: number;
}

export const RESTART_POLICY: RestartPolicy = { baseMs: 100, maxMs: 10_000, stableAfterMs: 30_000 };

/**
 * Per worker slot: how long to wait before its next restart, from how long it ran and how many
 * times it died quickly in a row, so a crash loop waits longer each time instead of spinning.
 */
export class RestartBackoff {
  readonly #policy: RestartPolicy;
  readonly #quickDeaths = new Map<number, number>();

  constructor(policy: RestartPolicy = RESTART_POLICY) {
    this.#policy = policy;
  }

  /** Records a death of the worker in `slot` after `ranMs`; returns the delay before restarting it. */
  delayAfterDeath(slot: number, ranMs: number): number {
    const quick = ranMs >= this.#policy.stableAfterMs ? 0 : (this.#quickDeaths.get(slot) ?? 0);
    this.#quickDeaths.set(slot, quick + 1);
    return Math.min(this.#policy.maxMs, this.#policy.baseMs * 2 ** quick);
  }

  /**
   * Records that the worker in `slot` exited cleanly (stopped on its own, after draining): no
   * crash, so the count of quick deaths starts over. Returns the delay before restarting it.
   */
  delayAfterExit(slot: number): number {
    this.#quickDeaths.delete(slot);
    return this.#policy.baseMs;
  }
}
