const NONE = -1;
const FIRST_ALLOCATION = 1024;
const TWO_POW_32 = 2 ** 32;

/** Fields of a slot, side by side so that one cache line holds them: its key and its links. */
const FIELDS = 4;
const KEY = 0;
/** Next slot in the same hash bucket. */
const CHAIN = 1;
const OLDER = 2;
const NEWER = 3;
/** The OLDER field of a removed slot, which waits in the free list (linked through CHAIN). */
const FREE = -2;

/**
 * A bounded set of block hashes in least-recently-used order. Each block lives in a slot, a
 * number below `capacity` that the owner keys its own per-block data by; slots are handed out
 * from 0 upwards (a removed block's slot first) and, once the table is full, the least recently
 * used block's slot is reused for the new one. Typed arrays throughout (chained hashing with per-slot links, and an
 * intrusive doubly linked list for the order): inserting, finding, touching and evicting
 * allocate nothing and never rebuild the table, unlike a Map whose deletes and inserts of
 * non-Smi keys churn the heap. Storage grows by doubling up to `capacity`, so a large
 * configured capacity costs memory only once it is used.
 */
export class LruBlockTable {
  readonly capacity: number;
  #size = 0;
  /** Slots handed out so far (live or free). */
  #allocated = 0;
  #free = NONE;
  /** FIELDS numbers per slot (the links are small integers, exact as doubles). */
  #slots = new Float64Array(0);
  /** First slot of each hash bucket; the bucket count is a power of two. */
  #buckets = new Int32Array(0);
  #oldest = NONE;
  #newest = NONE;
  /** Called with the slots' new count whenever the storage grows. */
  readonly #onGrow: (slots: number) => void;

  /** `onGrow` lets the owner grow its per-slot arrays alongside (to at least the given count). */
  constructor(capacity: number, onGrow: (slots: number) => void) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`block table capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.#onGrow = onGrow;
  }

  /**
   * Slots handed out so far: every held block's slot is below this (a removed block's slot too,
   * until it is handed out again).
   */
  get allocated(): number {
    return this.#allocated;
  }

  /** Blocks held. */
  get size(): number {
    return this.#size;
  }

  /** The slot holding `key`, or -1. */
  find(key: number): number {
    if (this.#size === 0) return NONE;
    const slots = this.#slots;
    let slot = this.#buckets[this.#bucketOf(key)]!;
    while (slot !== NONE && slots[slot * FIELDS + KEY] !== key) slot = slots[slot * FIELDS + CHAIN]!;
    return slot;
  }

  /**
   * Adds `key`, which must not be held, as the most recently used block, and returns its slot.
   * When the table is full, the least recently used block is forgotten and its slot reused: the
   * owner must reset its data for the returned slot either way.
   */
  insert(key: number): number {
    let slot: number;
    if (this.#free !== NONE) {
      slot = this.#free;
      this.#free = this.#slots[slot * FIELDS + CHAIN]!;
      this.#size++;
    } else if (this.#allocated < this.capacity) {
      if (this.#allocated * FIELDS === this.#slots.length) this.#grow();
      slot = this.#allocated++;
      this.#size++;
    } else {
      slot = this.#oldest;
      this.#unlinkFromBucket(slot);
      this.#unlinkFromOrder(slot);
    }
    const bucket = this.#bucketOf(key);
    this.#slots[slot * FIELDS + KEY] = key;
    this.#slots[slot * FIELDS + CHAIN] = this.#buckets[bucket]!;
    this.#buckets[bucket] = slot;
    this.#appendToOrder(slot);
    return slot;
  }

  /** The slot of the least recently used block, or -1 when the table is empty. */
  oldest(): number {
    return this.#oldest;
  }

  /** Forgets the block in `slot`; its slot is handed out again by a later insert. */
  remove(slot: number): void {
    this.#unlinkFromBucket(slot);
    this.#unlinkFromOrder(slot);
    this.#slots[slot * FIELDS + OLDER] = FREE;
    this.#slots[slot * FIELDS + CHAIN] = this.#free;
    this.#free = slot;
    this.#size--;
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
    const slots = this.#slots;
    const bucket = this.#bucketOf(slots[slot * FIELDS + KEY]!);
    const next = slots[slot * FIELDS + CHAIN]!;
    let at = this.#buckets[bucket]!;
    if (at === slot) {
      this.#buckets[bucket] = next;
      return;
    }
    while (slots[at * FIELDS + CHAIN] !== slot) at = slots[at * FIELDS + CHAIN]!;
    slots[at * FIELDS + CHAIN] = next;
  }

  #unlinkFromOrder(slot: number): void {
    const slots = this.#slots;
    const older = slots[slot * FIELDS + OLDER]!;
    const newer = slots[slot * FIELDS + NEWER]!;
    if (older === NONE) this.#oldest = newer;
    else slots[older * FIELDS + NEWER] = newer;
    if (newer === NONE) this.#newest = older;
    else slots[newer * FIELDS + OLDER] = older;
  }

  #appendToOrder(slot: number): void {
    const slots = this.#slots;
    slots[slot * FIELDS + OLDER] = this.#newest;
    slots[slot * FIELDS + NEWER] = NONE;
    if (this.#newest === NONE) this.#oldest = slot;
    else slots[this.#newest * FIELDS + NEWER] = slot;
    this.#newest = slot;
  }

  /** Doubles the slot storage (up to the capacity) and rehashes into twice as many buckets. */
  #grow(): void {
    const count = Math.min(this.capacity, Math.max(FIRST_ALLOCATION, (this.#slots.length / FIELDS) * 2));
    this.#slots = grown(this.#slots, new Float64Array(count * FIELDS));
    let buckets = 1;
    while (buckets < count * 2) buckets *= 2;
    this.#buckets = new Int32Array(buckets).fill(NONE);
    for (let slot = 0; slot < this.#allocated; slot++) {
      if (this.#slots[slot * FIELDS + OLDER] === FREE) continue;
      const bucket = this.#bucketOf(this.#slots[slot * FIELDS + KEY]!);
      this.#slots[slot * FIELDS + CHAIN] = this.#buckets[bucket]!;
      this.#buckets[bucket] = slot;
    }
    this.#onGrow(count);
  }
}

/** `into`, holding a copy of `from` at its start. */
export function grown<A extends Float64Array | Int32Array | Uint8Array>(from: A, into: A): A {
  into.set(from);
  return into;
}
