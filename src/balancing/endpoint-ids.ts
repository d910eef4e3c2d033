/** Names kept before the first sweep of unused ones. */
const FIRST_SWEEP_AT = 1024;

/**
 * Small integer ids for endpoint names, so that per-block data can be held in typed arrays.
 * Bounded: once the names reach a threshold, the next new name first sweeps the names the owner
 * no longer refers to (their ids are reused), and the threshold becomes twice the names left.
 */
export class EndpointIds {
  readonly #ids = new Map<string, number>();
  readonly #free: number[] = [];
  /** Ids of forgotten names: reused only once a sweep finds them no longer referred to. */
  readonly #forgotten = new Set<number>();
  #next = 0;
  #sweepAt = FIRST_SWEEP_AT;
  #version = 0;
  /** Marks in `inUse` the ids still referred to (`inUse` is as long as `limit`). */
  readonly #markInUse: (inUse: Uint8Array) => void;

  constructor(markInUse: (inUse: Uint8Array) => void) {
    this.#markInUse = markInUse;
  }

  /** Changes whenever a name gains or loses its id: a table built from `idOf` is stale then. */
  get version(): number {
    return this.#version;
  }

  /** Every id is below this. */
  get limit(): number {
    return this.#next;
  }

  /** The name's id, or undefined when it has none. */
  idOf(name: string): number | undefined {
    return this.#ids.get(name);
  }

  /** The name's id, given one if it has none. */
  assign(name: string): number {
    const known = this.#ids.get(name);
    if (known !== undefined) return known;
    if (this.#ids.size >= this.#sweepAt) this.#sweep();
    const id = this.#free.pop() ?? this.#next++;
    this.#ids.set(name, id);
    this.#version++;
    return id;
  }

  /**
   * Takes the name's id away: what the owner holds under that id no longer belongs to the name,
   * which gets a new id when it is assigned again.
   */
  forget(name: string): void {
    const id = this.#ids.get(name);
    if (id === undefined) return;
    this.#ids.delete(name);
    this.#forgotten.add(id);
    this.#version++;
  }

  #sweep(): void {
    const inUse = new Uint8Array(this.#next);
    this.#markInUse(inUse);
    for (const [name, id] of this.#ids) {
      if (inUse[id] === 1) continue;
      this.#ids.delete(name);
      this.#free.push(id);
    }
    for (const id of this.#forgotten) {
      if (inUse[id] === 1) continue;
      this.#forgotten.delete(id);
      this.#free.push(id);
    }
    this.#sweepAt = Math.max(FIRST_SWEEP_AT, 2 * this.#ids.size);
    this.#version++;
  }
}
