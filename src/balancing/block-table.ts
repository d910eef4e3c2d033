const NONE = -1;
const FIRST_ALLOCATION = 1024;
const TWO_POW_32 = 2 ** 32;

/**
 * A bounded set of block hashes in least-recently-used order. Each block lives in a slot, a
 * number below `capacity` that the owner keys its own per-block data by; slots are handed out
 * from 0 upwards and, once the table is full, the least recently used block's slot is reused
 * for the new one. Typed arrays throughout (chained hashing with per-slot links, and an
 * intrusive doubly linked list for the order): inserting, finding, touching and evicting
 * allocate nothing and never rebuild the table, unlike a Map whose deletes and inserts of
 * non-Smi keys churn the heap. Storage grows by doubling up to `capacity`, so a large
 * configured capacity costs memory only once it is used.
 */
export class LruBlockTable {
  readonly capacity: number;
  #size = 0;
  #keys = new Float64Array(0);
  /** Next slot in the same hash bucket. */
  #chain = new Int32Array(0);
  #older = new Int32Array(0);
  #newer = new Int32Array(0);
  /** First slot of each hash bucket; the bucket count is a power of two. */
  #buckets = new Int32Array(0);
  #oldest = NONE;
  #newest = NONE;
  /** Called with a slot's new length whenever the slot storage grows. */
  readonly #onGrow: (slots: number) => void;

  /** `onGrow` lets the owner grow its per-slot arrays alongside (to at least the given length). */
  constructor(capacity: number, onGrow: (slots: number) => void) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`block table capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.#onGrow = onGrow;
  }

  /** Blocks held; they occupy slots 0 to size - 1. */
  get size(): number {
    return this.#size;
  }

  /** The slot holding `key`, or -1. */
  find(key: number): number {
    let slot = this.#buckets.length === 0 ? NONE : this.#buckets[this.#bucketOf(key)]!;
    while (slot !== NONE && this.#keys[slot] !== key) slot = this.#chain[slot]!;
    return slot;
  }

  /**
   * Adds `key`, which must not be held, as the most recently used block, and returns its slot.
   * When the table is full, the least recently used block is forgotten and its slot reused: the
   * owner must reset its data for the returned slot either way.
   */
  insert(key: number): number {
    let slot: number;
    if (this.#size < this.capacity) {
      if (this.#size === this.#keys.length) this.#grow();
      slot = this.#size++;
    } else {
      slot = this.#oldest;
      this.#unlinkFromBucket(slot);
      this.#unlinkFromOrder(slot);
    }
    this.#keys[slot] = key;
    const bucket = this.#bucketOf(key);
    this.#chain[slot] = this.#buckets[bucket]!;
    this.#buckets[bucket] = slot;
    this.#appendToOrder(slot);
    return slot;
  }

  /** Makes the block in `slot` the most recently used. */
  touch(slot: number): void {
    if (slot === this.#newest) return;
    this.#unlinkFromOrder(slot);
    this.#appendToOrder(slot);
  }

  #bucketOf(key: number): number {
    // The low and high words mixed (murmur3's finaliser), so that sequential keys spread.
    let mixed = (key >>> 0) ^ Math.imul(Math.floor(key / TWO_POW_32) | 0, 0x9e3779b1);
    mixed ^= mixed >>> 16;
    mixed = Math.imul(mixed, 0x85ebca6b);
    mixed ^= mixed >>> 13;
    mixed = Math.imul(mixed, 0xc2b2ae35);
    mixed ^= mixed >>> 16;
    return mixed & (this.#buckets.length - 1);
  }

  #unlinkFromBucket(slot: number): void {
    const bucket = this.#bucketOf(this.#keys[slot]!);
    let at = this.#buckets[bucket]!;
    if (at === slot) {
      this.#buckets[bucket] = this.#chain[slot]!;
      return;
    }
    while (this.#chain[at] !== slot) at = this.#chain[at]!;
    this.#chain[at] = this.#chain[slot]!;
  }

  #unlinkFromOrder(slot: number): void {
    const older = this.#older[slot]!;
    const newer = this.#newer[slot]!;
    if (older === NONE) this.#oldest = newer;
    else this.#newer[older] = newer;
    if (newer === NONE) this.#newest = older;
    else this.#older[newer] = older;
  }

  #appendToOrder(slot: number): void {
    this.#older[slot] = this.#newest;
    this.#newer[slot] = NONE;
    if (this.#newest === NONE) this.#oldest = slot;
    else this.#newer[this.#newest] = slot;
    this.#newest = slot;
  }

  /** Doubles the slot storage (up to the capacity) and rehashes into twice as many buckets. */
  #grow(): void {
    const slots = Math.min(this.capacity, Math.max(FIRST_ALLOCATION, this.#keys.length * 2));
    this.#keys = grown(this.#keys, new Float64Array(slots));
    this.#chain = new Int32Array(slots);
    this.#older = grown(this.#older, new Int32Array(slots));
    this.#newer = grown(this.#newer, new Int32Array(slots));
    let buckets = 1;
    while (buckets < slots * 2) buckets *= 2;
    this.#buckets = new Int32Array(buckets).fill(NONE);
    for (let slot = 0; slot < this.#size; slot++) {
      const bucket = this.#bucketOf(this.#keys[slot]!);
      this.#chain[slot] = this.#buckets[bucket]!;
      this.#buckets[bucket] = slot;
    }
    this.#onGrow(slots);
  }
}

/** `into`, holding a copy of `from` at its start. */
export function grown<A extends Float64Array | Int32Array | Uint8Array>(from: A, into: A): A {
  into.set(from);
  return into;
}
