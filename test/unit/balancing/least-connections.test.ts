import { describe, expect, it } from 'vitest';
import { createSelector, type Candidate, type Selector } from '../../../src/balancing/index.js';
import { candidate, weighted } from './support.js';

function names(selector: Selector, pool: readonly Candidate[], picks: number): string[] {
  return Array.from({ length: picks }, () => selector.select(pool)!.name);
}

describe('least connections', () => {
  it('picks the fewest active requests relative to weight', () => {
    const pool = [
      candidate('a', { weight: 1, activeConnections: 4 }), // load 4
      candidate('b', { weight: 2, activeConnections: 4 }), // load 2
      candidate('c', { weight: 1, activeConnections: 3 }), // load 3
    ];
    expect(names(createSelector('least-connections'), pool, 5)).toEqual(['b', 'b', 'b', 'b', 'b']);
  });

  it('prefers a heavier endpoint with more connections when its relative load is lower', () => {
    const pool = [
      candidate('small', { weight: 1, activeConnections: 1 }), // load 1
      candidate('large', { weight: 4, activeConnections: 3 }), // load 0.75
    ];
    expect(createSelector('least-connections').select(pool)!.name).toBe('large');
  });

  it('rotates among equally loaded endpoints instead of always taking the first', () => {
    const pool = weighted(1, 1, 1).map((endpoint) => ({ ...endpoint, activeConnections: 2 }));
    expect(names(createSelector('least-connections'), pool, 6).join('')).toBe('abcabc');
  });

  it('rotates only among the tied least-loaded endpoints', () => {
    const pool = [
      candidate('busy', { activeConnections: 1 }),
      candidate('idle-1'),
      candidate('idle-2'),
    ];
    expect(names(createSelector('least-connections'), pool, 4)).toEqual([
      'idle-1',
      'idle-2',
      'idle-1',
      'idle-2',
    ]);
  });

  it('breaks ties by smooth weighted round-robin', () => {
    const pool = weighted(2, 1);
    expect(names(createSelector('least-connections'), pool, 6).join('')).toBe('abaaba');
  });

  it('treats loads equal up to float rounding as tied', () => {
    const pool = [
      candidate('a', { weight: 0.3, activeConnections: 1 }),
      // 3 / 0.9 is 3.333333333333333 while 1 / 0.3 is 3.3333333333333335.
      candidate('b', { weight: 0.9, activeConnections: 3 }),
      candidate('c', { weight: 0.1, activeConnections: 1 }),
    ];
    expect(new Set(names(createSelector('least-connections'), pool, 6))).toEqual(new Set(['a', 'b']));
  });

  it('follows the load as it changes between picks', () => {
    const selector = createSelector('least-connections');
    const pool = weighted(1, 1, 1);
    // Each pick adds a request to the chosen endpoint, so picks spread evenly.
    for (let index = 0; index < 30; index++) selector.select(pool)!.activeConnections += 1;
    expect(pool.map((endpoint) => endpoint.activeConnections)).toEqual([10, 10, 10]);
    pool[1]!.activeConnections = 0;
    expect(selector.select(pool)!.name).toBe('b');
  });
});
