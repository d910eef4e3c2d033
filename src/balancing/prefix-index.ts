import { grown, LruBlockTable } from './block-table.js';
import { EndpointIds } from './endpoint-ids.js';

/**
 * A block the same endpoint was sent less than this long ago is not moved again: a hot prefix
 * (a tenant's system prompt) then keeps its place for a while instead of being moved to the
 * most recent end on every request. Its place in the LRU order is at most this stale, against
 * a TTL of minutes.
 */
const REFRESH_MS = 1000;

/** Endpoints remembered per block: the most recent ones; a prefix popular enough to be on more is everywhere anyway. */
const ENDPOINTS_PER_BLOCK = 4;

const NOT_A_CANDIDATE = -1;

/**
 * A block's row: ENDPOINTS_PER_BLOCK endpoint ids (most recent first, NO_ENDPOINT past the last)
 * then the time each was sent the block, side by side so that one cache line holds them.
 */
const ROW = 2 * ENDPOINTS_PER_BLOCK;
const SERVED_AT = ENDPOINTS_PER_BLOCK;
const NO_ENDPOINT = -1;

export interface PrefixIndexOptions {
  /** Most block hashes remembered; the least recently served are forgotten first. */
  readonly capacity: number;
  /** An endpoint's claim on a block older than this is ignored (its cache has likely moved on). */
  readonly ttlMs: number;
  readonly now?: () => number;
}

/**
 * An approximate map of the backends' prefix caches, learnt from Sluice's own routing: which
 * endpoints recently served which prompt blocks. Bounded (an LRU over block hashes). Each block
 * keeps its few endpoints, most recent first, as small integer ids with the time each was sent
 * there, in fixed-size typed-array rows indexed by the block's slot: recording and matching
 * allocate nothing.
 */
export class PrefixIndex {
  readonly #blocks: LruBlockTable;
  readonly #ids = new EndpointIds({ drop: (forgotten) => this.#dropClaims(forgotten), mark: (inUse) => this.#markIdsInUse(inUse) });
  /** A row per block slot (ids are small integers, exact as doubles). */
  #rows = new Float64Array(0);
  readonly #ttlMs: number;
  readonly #now: () => number;
  /** Candidate position by endpoint id, for the names array (and id version) last matched. */
  #positions = new Int32Array(0);
  #positionNames: readonly string[] = [];
  #positionsVersion = -1;

  constructor(options: PrefixIndexOptions) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) throw new RangeError(`prefix index capacity must be a positive integer, got ${options.capacity}`);
    this.#blocks = new LruBlockTable(options.capacity, (slots) => this.#growRows(slots));
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#blocks.size;
  }

  /** True when this index was built with these settings, so a new selector may keep it. */
  fits(options: Pick<PrefixIndexOptions, 'capacity' | 'ttlMs'>): boolean {
    return options.capacity === this.#blocks.capacity && options.ttlMs === this.#ttlMs;
  }

  /**
   * Writes into `matched[i]` how many leading blocks endpoint `names[i]` is believed to hold, and
   * returns the longest. `names` must not be changed afterwards: while the same array comes
   * back (the scored picker keeps one per tier), the index keeps its position table.
   */
  match(blocks: readonly number[], names: readonly string[], matched: Int32Array): number {
    matched.fill(0);
    const positions = this.#positionsOf(names);
    const oldest = this.#now() - this.#ttlMs;
    let longest = 0;
    for (let index = 0; index < blocks.length; index++) {
      const slot = this.#blocks.find(blocks[index]!);
      if (slot === -1) break;
      let advanced = false;
      const row = slot * ROW;
      for (let at = row, end = row + ENDPOINTS_PER_BLOCK; at < end; at++) {
        const id = this.#rows[at]!;
        if (id === NO_ENDPOINT) break;
        if (this.#rows[at + SERVED_AT]! < oldest) continue;
        const candidate = positions[id] ?? NOT_A_CANDIDATE;
        // Chained hashes: holding block i means holding every block before it, but the
        // endpoint must also have been seen on block i-1 here, or its claim has been evicted.
        if (candidate === NOT_A_CANDIDATE || matched[candidate] !== index) continue;
        matched[candidate] = index + 1;
        advanced = true;
      }
      if (!advanced) break;
      longest = index + 1;
    }
    return longest;
  }

  /**
   * Drops `endpoint`'s claims: its cache holds none of them (another backend under the name, or
   * one that went down). They stop matching at once, and leave the rows at the next sweep of the
   * ids, which then hands their id out again.
   */
  forget(endpoint: string): void {
    this.#ids.forget(endpoint);
  }

  /** Remembers that `endpoint` was sent these blocks now. */
  record(blocks: readonly number[], endpoint: string): void {
    const now = this.#now();
    const id = this.#ids.assign(endpoint);
    // Last block first, so that a prompt's first blocks (shared by the most requests) are the
    // most recently used and are forgotten last.
    for (let index = blocks.length - 1; index >= 0; index--) {
      const block = blocks[index]!;
      let slot = this.#blocks.find(block);
      if (slot === -1) {
        slot = this.#blocks.insert(block);
        for (let at = slot * ROW, end = at + ENDPOINTS_PER_BLOCK; at < end; at++) this.#rows[at] = NO_ENDPOINT;
      } else {
        const row = slot * ROW;
        if (this.#rows[row] === id && now - this.#rows[row + SERVED_AT]! < REFRESH_MS) continue;
        this.#blocks.touch(slot);
      }
      this.#claim(slot, id, now);
    }
  }

  /** Puts `id` first on the block in `slot`, dropping its older claim there or else the oldest when full. */
  #claim(slot: number, id: number, now: number): void {
    const rows = this.#rows;
    const row = slot * ROW;
    // Its own claim, else the first free place (a forgotten endpoint's claim is one), else the
    // oldest claim (the last place) goes.
    let from = 0;
    while (from < ENDPOINTS_PER_BLOCK - 1 && rows[row + from] !== id && rows[row + from] !== NO_ENDPOINT && !this.#ids.isForgotten(rows[row + from]!)) from++;
    for (let at = row + from; at > row; at--) {
      rows[at] = rows[at - 1]!;
      rows[at + SERVED_AT] = rows[at - 1 + SERVED_AT]!;
    }
    rows[row] = id;
    rows[row + SERVED_AT] = now;
  }

  /** Candidate position by endpoint id, rebuilt when the names array or the ids have changed. */
  #positionsOf(names: readonly string[]): Int32Array {
    if (names === this.#positionNames && this.#positionsVersion === this.#ids.version) return this.#positions;
    this.#positionNames = names;
    this.#positionsVersion = this.#ids.version;
    if (this.#positions.length < this.#ids.limit) this.#positions = new Int32Array(this.#ids.limit);
    this.#positions.fill(NOT_A_CANDIDATE);
    for (let i = 0; i < names.length; i++) {
      const id = this.#ids.idOf(names[i]!);
      if (id !== undefined) this.#positions[id] = i;
    }
    return this.#positions;
  }

  /** Removes the claims of the ids marked in `dropped`; each row keeps its other claims, in order. */
  #dropClaims(dropped: Uint8Array): void {
    const rows = this.#rows;
    for (let slot = 0; slot < this.#blocks.allocated; slot++) {
      const row = slot * ROW;
      let kept = row;
      let at = row;
      for (const end = row + ENDPOINTS_PER_BLOCK; at < end && rows[at] !== NO_ENDPOINT; at++) {
        if (dropped[rows[at]!] === 1) continue;
        rows[kept + SERVED_AT] = rows[at + SERVED_AT]!;
        rows[kept++] = rows[at]!;
      }
      for (; kept < at; kept++) rows[kept] = NO_ENDPOINT;
    }
  }

  #markIdsInUse(inUse: Uint8Array): void {
    for (let slot = 0; slot < this.#blocks.allocated; slot++) {
      const row = slot * ROW;
      for (let at = row, end = row + ENDPOINTS_PER_BLOCK; at < end && this.#rows[at] !== NO_ENDPOINT; at++) inUse[this.#rows[at]!] = 1;
    }
  }

  #growRows(slots: number): void {
    this.#rows = grown(this.#rows, new Float64Array(slots * ROW));
  }
}
