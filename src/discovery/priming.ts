/**
 * A catalog's warm-up. Primed once every awaited endpoint's first model listing has settled
 * (answered, failed or timed out), once told so (a worker hears it from its primary), or once
 * `boundMs` has passed, whichever comes first; it never goes back. Until then requests wait on
 * `whenPrimed()`; from then on `primed` is all they read.
 */
export class Priming {
  readonly #awaiting: Set<string>;
  readonly #onPrimed: () => void;
  readonly #done: Promise<void>;
  #resolve: () => void = () => undefined;
  #primed = false;
  #timer: NodeJS.Timeout | undefined;

  /**
   * `awaiting`: names of the endpoints whose first listing is waited for (none: primed at once).
   * `boundMs`: the longest the warm-up lasts (unset: no bound). `onPrimed`: called once, when it
   * ends after construction.
   */
  constructor(awaiting: Iterable<string>, boundMs: number | undefined, onPrimed: () => void) {
    this.#awaiting = new Set(awaiting);
    this.#onPrimed = onPrimed;
    this.#done = new Promise((resolve) => (this.#resolve = resolve));
    if (this.#awaiting.size === 0) this.#end(false);
    else if (boundMs !== undefined) this.#timer = setTimeout(() => this.#end(true), boundMs).unref();
  }

  get primed(): boolean {
    return this.#primed;
  }

  /** Endpoints whose first listing had not settled when the warm-up ended, or has not yet. */
  get awaiting(): readonly string[] {
    return [...this.#awaiting];
  }

  /** Resolves once primed (at once when it is); never rejects. */
  whenPrimed(): Promise<void> {
    return this.#done;
  }

  /** The endpoint's first listing has settled, whatever its outcome; later ones change nothing. */
  settled(name: string): void {
    if (this.#primed || !this.#awaiting.delete(name)) return;
    if (this.#awaiting.size === 0) this.#end(true);
  }

  /** Ends the warm-up now (the primary says its first round has settled). */
  prime(): void {
    if (!this.#primed) this.#end(true);
  }

  #end(notify: boolean): void {
    this.#primed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#resolve();
    if (notify) this.#onPrimed();
  }
}
