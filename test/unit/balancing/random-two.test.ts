import { describe, expect, it } from 'vitest';
import { createSelector, type Selector } from '../../../src/balancing/index.js';
import { createRandom } from '../../../src/model-server/prng.js';
import { candidate, countBy, shareOf } from './support.js';

/** A random source that replays the given values, then fails the test if asked for more. */
function scripted(...values: number[]): () => number {
  return () => {
    const next = values.shift();
    if (next === undefined) throw new Error('random() called more often than expected');
    return next;
  };
}

describe('random two choices', () => {
  const pool = [
    candidate('a', { activeConnections: 3 }),
    candidate('b', { activeConnections: 1 }),
    candidate('c', { activeConnections: 5 }),
    candidate('d', { activeConnections: 0 }),
  ];

  it('compares the two drawn candidates and keeps the less loaded one', () => {
    // 0.1 draws index 0 (a); 0.9 draws slot 2 of the remaining three, which is d.
    expect(createSelector('random-two', { random: scripted(0.1, 0.9) }).select(pool)!.name).toBe('d');
    // a against c: a has fewer active requests.
    expect(createSelector('random-two', { random: scripted(0.1, 0.5) }).select(pool)!.name).toBe('a');
  });

  it('never draws the same candidate twice', () => {
    // Both draws at the bottom: the second skips past the first.
    expect(createSelector('random-two', { random: scripted(0, 0) }).select(pool)!.name).toBe('b');
    // Both draws at the top (also from a generator returning exactly 1): z, then y, which wins.
    const busiestLast = [
      candidate('x'),
      candidate('y', { activeConnections: 2 }),
      candidate('z', { activeConnections: 5 }),
    ];
    for (const top of [0.99, 1]) {
      const selector = createSelector('random-two', { random: scripted(top, top) });
      expect(selector.select(busiestLast)!.name).toBe('y');
    }
  });

  it('scores by weight / (activeConnections + 1)', () => {
    const light = candidate('light', { weight: 1, activeConnections: 0 }); // score 1
    const heavyBusy = candidate('heavy-busy', { weight: 4, activeConnections: 4 }); // score 0.8
    const heavyLess = candidate('heavy-less', { weight: 4, activeConnections: 2 }); // score 1.33
    const firstTwo = (): Selector => createSelector('random-two', { random: scripted(0, 0) });
    expect(firstTwo().select([light, heavyBusy])).toBe(light);
    expect(firstTwo().select([light, heavyLess])).toBe(heavyLess);
  });

  it('keeps the first drawn on equal scores', () => {
    const twins = [candidate('x', { activeConnections: 2 }), candidate('y', { activeConnections: 2 })];
    expect(createSelector('random-two', { random: scripted(0.7, 0) }).select(twins)!.name).toBe('y');
    expect(createSelector('random-two', { random: scripted(0.2, 0) }).select(twins)!.name).toBe('x');
  });

  it('returns a lone candidate without drawing', () => {
    const only = candidate('only');
    expect(createSelector('random-two', { random: scripted() }).select([only])).toBe(only);
  });

  it('with a seeded source, favours idle endpoints and never picks the busiest', () => {
    const selector = createSelector('random-two', { random: createRandom(2024) });
    const picks = Array.from({ length: 12_000 }, () => selector.select(pool)!.name);
    const counts = countBy(picks, (name) => name);
    // d is idle and wins every pair it is in: 3 of the 6 pairs. c loses every pair.
    expect(shareOf(counts, 'd', picks.length)).toBeCloseTo(0.5, 1);
    expect(shareOf(counts, 'b', picks.length)).toBeCloseTo(1 / 3, 1);
    expect(shareOf(counts, 'a', picks.length)).toBeCloseTo(1 / 6, 1);
    expect(counts.get('c')).toBeUndefined();
  });

  it('is reproducible with the same seed', () => {
    const run = (): string[] => {
      const selector = createSelector('random-two', { random: createRandom(5) });
      return Array.from({ length: 50 }, () => selector.select(pool)!.name);
    };
    expect(run()).toEqual(run());
  });

  it('draws candidates in proportion to their weight', () => {
    // Equal scores (3/(2+1) and 1/(0+1)), so the first drawn wins: that is the weighted draw itself.
    const tie = [candidate('heavy', { weight: 3, activeConnections: 2 }), candidate('light', { weight: 1, activeConnections: 0 })];
    const selector = createSelector('random-two', { random: createRandom(7) });
    const picks = Array.from({ length: 20_000 }, () => selector.select(tie)!);
    expect(shareOf(countBy(picks, (c) => c.name), 'heavy', picks.length)).toBeCloseTo(0.75, 1);
  });
});
