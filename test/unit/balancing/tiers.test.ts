import { describe, expect, it } from 'vitest';
import { preferredTier } from '../../../src/balancing/index.js';
import { candidate } from './support.js';

const namesOf = (list: readonly { name: string }[]): string[] => list.map((entry) => entry.name);

describe('preferredTier', () => {
  it('keeps only the primaries with the highest priority, in their original order', () => {
    const pool = [
      candidate('p1-a', { priority: 1 }),
      candidate('p3-a', { priority: 3 }),
      candidate('p2', { priority: 2 }),
      candidate('p3-b', { priority: 3 }),
    ];
    expect(namesOf(preferredTier(pool))).toEqual(['p3-a', 'p3-b']);
  });

  it('ignores backups, even with a higher priority, while a primary exists', () => {
    const pool = [
      candidate('backup', { priority: 100, backup: true }),
      candidate('primary', { priority: -1 }),
    ];
    expect(namesOf(preferredTier(pool))).toEqual(['primary']);
  });

  it('falls back to the highest-priority backups when no primary exists', () => {
    const pool = [
      candidate('b-low', { priority: 0, backup: true }),
      candidate('b-high-1', { priority: 5, backup: true }),
      candidate('b-high-2', { priority: 5, backup: true }),
    ];
    expect(namesOf(preferredTier(pool))).toEqual(['b-high-1', 'b-high-2']);
  });

  it('handles negative priorities and an empty list', () => {
    const pool = [candidate('minus-2', { priority: -2 }), candidate('minus-1', { priority: -1 })];
    expect(namesOf(preferredTier(pool))).toEqual(['minus-1']);
    expect(preferredTier([])).toEqual([]);
  });

  it('returns the same objects and leaves the input untouched', () => {
    const pool = [candidate('x'), candidate('y', { backup: true })];
    const tier = preferredTier(pool);
    expect(tier[0]).toBe(pool[0]);
    expect(tier).not.toBe(pool);
    expect(namesOf(pool)).toEqual(['x', 'y']);
  });
});
