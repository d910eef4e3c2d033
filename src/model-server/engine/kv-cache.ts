/**
 * Block accounting of a KV cache with a prefix cache, after vLLM's block pool. A block is free,
 * held by sequences (anonymous, or cached under its chained hash and referenced), or cached and
 * unreferenced: such a block still answers prefix lookups but is reclaimed, least recently used
 * first, when free blocks run out. Pure bookkeeping: no time, no I/O.
 */
export class KvCache {
  /** Cached blocks by hash, with the number of sequences referencing each. */
  private readonly refs = new Map<string, number>();
  /** Cached blocks no sequence references, least recently released first. */
  private readonly evictable = new Set<string>();
  /** Blocks held by sequences without a hash (partial blocks, generated tokens, duplicates). */
  private anonymous = 0;
  private evictions = 0;

  constructor(readonly totalBlocks: number) {
    if (!Number.isInteger(totalBlocks) || totalBlocks < 1) throw new RangeError('totalBlocks must be a positive integer');
  }

  /** Blocks held by running sequences. */
  get usedBlocks(): number {
    return this.refs.size - this.evictable.size + this.anonymous;
  }

  /** Blocks a sequence could take now, counting cached blocks that would be evicted. */
  get freeBlocks(): number {
    return this.totalBlocks - this.usedBlocks;
  }

  /** Blocks that hold a cached prefix (referenced or not). */
  get cachedBlocks(): number {
    return this.refs.size;
  }

  get evictedBlocks(): number {
    return this.evictions;
  }

  /** Fraction of blocks held by sequences, 0..1 (vLLM's kv_cache_usage_perc). */
  usage(): number {
    return this.usedBlocks / this.totalBlocks;
  }

  /** How many leading blocks of `hashes` the cache holds. */
  matchPrefix(hashes: readonly string[]): number {
    let matched = 0;
    while (matched < hashes.length && this.refs.has(hashes[matched]!)) matched++;
    return matched;
  }

  /** Whether `fresh` new blocks fit once the cached blocks `reused` are referenced. */
  canAcquire(reused: readonly string[], fresh: number): boolean {
    const revived = reused.reduce((count, hash) => count + (this.evictable.has(hash) ? 1 : 0), 0);
    return fresh <= this.freeBlocks - revived;
  }

  /** References the cached blocks `reused` and takes `fresh` anonymous blocks; false if they do not fit. */
  acquire(reused: readonly string[], fresh: number): boolean {
    if (!this.canAcquire(reused, fresh)) return false;
    for (const hash of reused) {
      const count = this.refs.get(hash);
      if (count === undefined) throw new Error(`block ${hash} is not cached`);
      this.refs.set(hash, count + 1);
      this.evictable.delete(hash);
    }
    this.take(fresh);
    return true;
  }

  /** Takes `count` more anonymous blocks (a growing sequence); false if they do not fit. */
  grow(count: number): boolean {
    return this.acquire([], count);
  }

  /**
   * Publishes one of a sequence's anonymous blocks, now computed, under `hash`. Returns false when
   * another sequence cached the same block meanwhile: this copy then stays anonymous.
   */
  publish(hash: string): boolean {
    if (this.refs.has(hash) || this.anonymous < 1) return false;
    this.anonymous--;
    this.refs.set(hash, 1);
    return true;
  }

  /**
   * Returns a sequence's blocks. Its cached blocks stay cached, evictable; they are released last
   * block first, so that the tail of a prefix is evicted before its head (as vLLM does).
   */
  release(cached: readonly string[], anonymous: number): void {
    if (anonymous > this.anonymous) throw new Error('released more anonymous blocks than were held');
    this.anonymous -= anonymous;
    for (let i = cached.length - 1; i >= 0; i--) {
      const hash = cached[i]!;
      const count = this.refs.get(hash);
      if (count === undefined || count < 1) throw new Error(`block ${hash} released but not referenced`);
      this.refs.set(hash, count - 1);
      if (count === 1) this.evictable.add(hash);
    }
  }

  /** Forgets every unreferenced cached block (the model was unloaded). */
  dropUnreferenced(): void {
    for (const hash of this.evictable) this.refs.delete(hash);
    this.evictable.clear();
  }

  private take(count: number): void {
    // Blocks neither held nor cached are used first; then the least recently released cached ones.
    let toEvict = count - (this.totalBlocks - this.refs.size - this.anonymous);
    for (const hash of this.evictable) {
      if (toEvict <= 0) break;
      this.evictable.delete(hash);
      this.refs.delete(hash);
      this.evictions++;
      toEvict--;
    }
    if (toEvict > 0) throw new Error('KV cache over-allocated');
    this.anonymous += count;
  }
}
