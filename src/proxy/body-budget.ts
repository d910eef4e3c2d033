/**
 * The request bodies a process holds in memory, across its requests. Each body is read whole
 * and kept until its request ends (another endpoint may need it), so without a bound on the sum
 * `server.max_connections` clients each sending `limits.max_body` could hold far more than the
 * process has: `limits.max_body_total` is that bound (per process, so per cluster worker).
 */
export class BodyBudget {
  #held = 0;

  /** Bytes held now: bodies being read (at most what they may grow to) and bodies kept for their requests. */
  get held(): number {
    return this.#held;
  }

  /** Takes `bytes` when they fit under `limit` with what is held, and says whether it did (nothing is taken when not). */
  take(bytes: number, limit: number): boolean {
    if (bytes > 0 && this.#held + bytes > limit) return false;
    this.#held += bytes;
    return true;
  }

  /** Gives back bytes taken. */
  give(bytes: number): void {
    this.#held -= bytes;
  }
}
