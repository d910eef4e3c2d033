import { describe, expect, it } from 'vitest';
import { createSelector } from '../../../src/balancing/index.js';
import { hashString, unitInterval } from '../../../src/balancing/hash.js';
import { weighted } from './support.js';

describe('rendezvous hashing primitives', () => {
  it('is deterministic and sensitive to every character', () => {
    expect(hashString('session-1')).toEqual(hashString('session-1'));
    expect(hashString('session-1')).not.toEqual(hashString('session-2'));
    expect(hashString('ab')).not.toEqual(hashString('ba'));
    expect(hashString('a')).not.toEqual(hashString('a\u0000'));
  });

  it('produces values strictly inside (0, 1), spread evenly', () => {
    const endpoint = hashString('vllm-1');
    const buckets = new Array<number>(10).fill(0);
    let lowest = 1;
    let highest = 0;
    for (let index = 0; index < 50_000; index++) {
      const value = unitInterval(hashString(`user-${index}`), endpoint);
      lowest = Math.min(lowest, value);
      highest = Math.max(highest, value);
      buckets[Math.floor(value * 10)]! += 1;
    }
    expect(lowest).toBeGreaterThan(0);
    expect(highest).toBeLessThan(1);
    // Expected 5,000 per bucket; 4 standard deviations is about 270.
    for (const count of buckets) expect(Math.abs(count - 5000)).toBeLessThan(300);
  });

  it('keeps the key-to-endpoint mapping stable across releases', () => {
    // Replicas running different versions must agree, so the hash may never change silently.
    const selector = createSelector('round-robin', { sticky: { maxLoadFactor: 1.25 } });
    const pool = weighted(1, 1, 1, 1, 1);
    const mapping = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta']
      .map((key) => selector.select(pool, { stickyKey: key })!.name)
      .join('');
    expect(mapping).toBe(GOLDEN_MAPPING);
  });
});

const GOLDEN_MAPPING = 'ceaceedd';
