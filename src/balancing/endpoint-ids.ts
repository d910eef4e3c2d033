/** Names kept before the first sweep of unused ones. */
const FIRST_SWEEP_AT = 1024;

/** Names forgotten since the last sweep that start one, however few names are held. */
const MIN_FORGOTTEN_SWEEP = 64;

/** What the owner of the ids does in a sweep; both get an array as long as `limit`. */
export interface IdReferences {
  /** Drops everything held under the ids marked 1 in `forgotten`: their names were forgotten. */
  drop(forgotten: Uint8Array): void;
  /** Marks in `inUse` the ids still referred to. */
  mark(inUse: Uint8Array): void;
}

/**
 * Small integer ids for endpoint names, so that per-block data can be held in typed arrays.
 * Bounded: a sweep reuses the ids that nothing refers to any more, those of forgotten names
 * (after the owner drops what it holds under them) and those of names the owner no longer
 * refers to. The next new name sweeps once the names reach a threshold (which then becomes
 * twice the names left), or once as many names have been forgotten since the last sweep as
 * twice the names held (at least MIN_FORGOTTEN_SWEEP): an endpoint that keeps going down and up
 * is forgotten each time, and would otherwise take a new id every time.
 */
export class EndpointIds {
  readonly #ids = new Map<string, number>();
  readonly #free: number[] = [];
  /** Ids of forgotten names: reused only once a sweep finds them no longer referred to. */
  readonly #forgotten = new Set<number>();
  #forgottenSinceSweep = 0;
  #next = 0;
  #sweepAt = FIRST_SWEEP_AT;
  #version = 0;
  readonly #references: IdReferences;

  constructor(references: IdReferences) {
    this.#references = references;
  }

  /** Changes whenever a name gains or loses its id: a table built from `idOf` is stale then. */
  get version(): number {
    return this.#version;
  }

  /** Every id is below this. */
  get limit(): number {
    return this.#next;
  }

  /** Whether `id` is a forgotten name's, not yet reused: what is held under it is dead. */
  isForgotten(id: number): boolean {
    return this.#forgotten.size > 0 && this.#forgotten.has(id);
  }

  /** The name's id, or undefined when it has none. */
  idOf(name: string): number | undefined {
    return this.#ids.get(name);
  }

  /** The name's id, given one if it has none. */
  assign(name: string): number {
    const known = this.#ids.get(name);
    if (known !== undefined) return known;
    if (this.#ids.size >= this.#sweepAt || this.#forgottenSinceSweep >= Math.max(MIN_FORGOTTEN_SWEEP, 2 * this.#ids.size)) this.#sweep();
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
    this.#forgottenSinceSweep++;
    this.#version++;
  }

  #sweep(): void {
    const forgotten = new Uint8Array(this.#next);
    for (const id of this.#forgotten) forgotten[id] = 1;
    this.#references.drop(forgotten);
    const inUse = new Uint8Array(this.#next);
    this.#references.mark(inUse);
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
    this.#forgottenSinceSweep = 0;
    this.#sweepAt = Math.max(FIRST_SWEEP_AT, 2 * this.#ids.size);
    this.#version++;
  }
}
