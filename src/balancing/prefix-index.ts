/**
 * A block the same endpoint was sent less than this long ago is not moved again: hot prefixes
 * (a tenant's system prompt) would otherwise be deleted and re-inserted on every request, which
 * costs map work and, in V8, periodic rebuilds of the whole table. Its place in the LRU order
 * is then at most this stale, against a TTL of minutes.
 */
const REFRESH_MS = 1000;

/** Endpoints remembered per block: the most recent ones; a prefix popular enough to be on more is everywhere anyway. */
const ENDPOINTS_PER_BLOCK = 4;

interface BlockEntry {
  /** Most recent first. */
  readonly endpoints: string[];
  readonly servedAt: number[];
}

export interface PrefixIndexOptions {
  /** Most block hashes remembered; the least recently served are forgotten first. */
  readonly capacity: number;
  /** An endpoint's claim on a block older than this is ignored (its cache has likely moved on). */
  readonly ttlMs: number;
  readonly now?: () => number;
}

/**
 * An approximate map of the backends' prefix caches, learnt from Sluice's own routing: which
 * endpoints recently served which prompt blocks. Bounded (an LRU over block hashes, using the
 * Map's insertion order), with no per-lookup allocation that grows with its size.
 */
export class PrefixIndex {
  readonly #blocks = new Map<number, BlockEntry>();
  /**
   * A live iterator over the map in insertion (least recently used first) order. Everything before
   * it has been deleted, so its next key is the oldest entry. Starting a new iterator for every
   * eviction would skip the deleted slots at the front of V8's table each time: O(n) per eviction.
   */
  #evictionCursor: Iterator<number> | undefined;
  readonly #capacity: number;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: PrefixIndexOptions) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) throw new RangeError(`prefix index capacity must be a positive integer, got ${options.capacity}`);
    this.#capacity = options.capacity;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#blocks.size;
  }

  /** True when this index was built with these settings, so a new selector may keep it. */
  fits(options: Pick<PrefixIndexOptions, 'capacity' | 'ttlMs'>): boolean {
    return options.capacity === this.#capacity && options.ttlMs === this.#ttlMs;
  }

  /**
   * Writes into `matched[i]` how many leading blocks candidate `names[i]` is believed to hold,
   * and returns the longest. `slotOf` maps an endpoint name to its index in `matched`.
   */
  match(blocks: readonly number[], slotOf: ReadonlyMap<string, number>, matched: Int32Array): number {
    matched.fill(0);
    const oldest = this.#now() - this.#ttlMs;
    let longest = 0;
    for (let index = 0; index < blocks.length; index++) {
      const entry = this.#blocks.get(blocks[index]!);
      if (!entry) break;
      let advanced = false;
      for (let slot = 0; slot < entry.endpoints.length; slot++) {
        if (entry.servedAt[slot]! < oldest) continue;
        const candidate = slotOf.get(entry.endpoints[slot]!);
        // Chained hashes: holding block i means holding every block before it, but the
        // endpoint must also have been seen on block i-1 here, or its claim has been evicted.
        if (candidate === undefined || matched[candidate] !== index) continue;
        matched[candidate] = index + 1;
        advanced = true;
      }
      if (!advanced) break;
      longest = index + 1;
    }
    return longest;
  }

  /** Remembers that `endpoint` was sent these blocks now. */
  record(blocks: readonly number[], endpoint: string): void {
    const now = this.#now();
    // Last block first, so that a prompt's first blocks (shared by the most requests) are the
    // most recently used and are forgotten last.
    for (let index = blocks.length - 1; index >= 0; index--) {
      const block = blocks[index]!;
      const entry = this.#blocks.get(block);
      if (entry) {
        if (entry.endpoints[0] === endpoint && now - entry.servedAt[0]! < REFRESH_MS) continue;
        this.#blocks.delete(block);
        this.#blocks.set(block, entry);
        const at = entry.endpoints.indexOf(endpoint);
        if (at !== -1) {
          entry.endpoints.splice(at, 1);
          entry.servedAt.splice(at, 1);
        } else if (entry.endpoints.length === ENDPOINTS_PER_BLOCK) {
          entry.endpoints.pop();
          entry.servedAt.pop();
        }
        entry.endpoints.unshift(endpoint);
        entry.servedAt.unshift(now);
      } else {
        this.#blocks.set(block, { endpoints: [endpoint], servedAt: [now] });
        if (this.#blocks.size > this.#capacity) this.#evictOldest();
      }
    }
  }

  #evictOldest(): void {
    let next = this.#evictionCursor?.next();
    if (!next || next.done) {
      this.#evictionCursor = this.#blocks.keys();
      next = this.#evictionCursor.next();
    }
    if (!next.done) this.#blocks.delete(next.value);
  }
}
