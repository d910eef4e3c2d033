import { describe, expect, it } from 'vitest';
import { KvCache } from '../../../../src/model-server/engine/index.js';

describe('KvCache', () => {
  it('counts held blocks and keeps published blocks cached after release', () => {
    const kv = new KvCache(10);
    expect(kv.acquire([], 4)).toBe(true);
    expect(kv.usage()).toBeCloseTo(0.4);
    expect(kv.publish('a')).toBe(true);
    expect(kv.publish('b')).toBe(true);
    kv.release(['a', 'b'], 2);
    expect(kv.usedBlocks).toBe(0);
    expect(kv.freeBlocks).toBe(10);
    expect(kv.cachedBlocks).toBe(2);
    expect(kv.matchPrefix(['a', 'b', 'c'])).toBe(2);
    expect(kv.matchPrefix(['b'])).toBe(1);
    expect(kv.matchPrefix(['x', 'a'])).toBe(0);
  });

  it('shares a cached block between sequences and frees it only when the last one lets go', () => {
    const kv = new KvCache(4);
    kv.acquire([], 1);
    kv.publish('a');
    expect(kv.acquire(['a'], 1)).toBe(true);
    expect(kv.usedBlocks).toBe(2);
    kv.release(['a'], 0);
    expect(kv.usedBlocks).toBe(2);
    kv.release(['a'], 1);
    expect(kv.usedBlocks).toBe(0);
    expect(kv.cachedBlocks).toBe(1);
  });

  it('does not publish a block twice: the duplicate stays anonymous', () => {
    const kv = new KvCache(4);
    kv.acquire([], 2);
    expect(kv.publish('a')).toBe(true);
    expect(kv.publish('a')).toBe(false);
    expect(kv.cachedBlocks).toBe(1);
    kv.release(['a'], 1);
    expect(kv.usedBlocks).toBe(0);
  });

  it('evicts unreferenced cached blocks least recently released first, a prefix tail before its head', () => {
    const kv = new KvCache(4);
    kv.acquire([], 2);
    kv.publish('a1');
    kv.publish('a2');
    kv.release(['a1', 'a2'], 0);
    kv.acquire([], 2);
    kv.publish('b1');
    kv.publish('b2');
    kv.release(['b1', 'b2'], 0);
    // All four blocks are cached and free; taking one evicts a's tail, not its head.
    expect(kv.grow(1)).toBe(true);
    expect(kv.evictedBlocks).toBe(1);
    expect(kv.matchPrefix(['a1', 'a2'])).toBe(1);
    expect(kv.grow(1)).toBe(true);
    expect(kv.matchPrefix(['a1'])).toBe(0);
    expect(kv.matchPrefix(['b1', 'b2'])).toBe(2);
  });

  it('refuses what does not fit, counting revived cached blocks as taken', () => {
    const kv = new KvCache(3);
    kv.acquire([], 1);
    kv.publish('a');
    kv.release(['a'], 0);
    expect(kv.canAcquire([], 3)).toBe(true);
    expect(kv.canAcquire(['a'], 3)).toBe(false);
    expect(kv.acquire(['a'], 2)).toBe(true);
    expect(kv.grow(1)).toBe(false);
    expect(kv.usage()).toBe(1);
  });
});
