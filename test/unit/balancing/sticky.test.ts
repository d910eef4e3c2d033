import { describe, expect, it } from 'vitest';
import { createSelector, type Candidate, type Selector } from '../../../src/balancing/index.js';
import { candidate, countBy, shareOf, weighted, type MutableCandidate } from './support.js';

const KEYS = Array.from({ length: 10_000 }, (_, index) => `session-${index}`);

function stickySelector(maxLoadFactor = 1.25): Selector {
  return createSelector('round-robin', { sticky: { maxLoadFactor } });
}

function assignments(selector: Selector, pool: readonly Candidate[], keys = KEYS): string[] {
  return keys.map((key) => selector.select(pool, { stickyKey: key })!.name);
}

/** Capacity the bounded-load rule grants `endpoint` for the next request. */
function capacityOf(endpoint: Candidate, pool: readonly Candidate[], maxLoadFactor: number): number {
  const totalActive = pool.reduce((sum, peer) => sum + peer.activeConnections, 0);
  const totalWeight = pool.reduce((sum, peer) => sum + peer.weight, 0);
  return Math.ceil((maxLoadFactor * (totalActive + 1) * endpoint.weight) / totalWeight);
}

describe('sticky rendezvous hashing', () => {
  it('maps a key to the same endpoint in independently built selectors, whatever the order', () => {
    const pool = weighted(1, 2, 1, 3, 1);
    const first = assignments(stickySelector(), pool);
    const second = assignments(
      createSelector('random-two', { sticky: { maxLoadFactor: 1.25 } }),
      [...pool].reverse(),
    );
    expect(second).toEqual(first);
    expect(new Set(first).size).toBe(5);
  });

  it('keeps sending a key to the same endpoint, ignoring the rotation of the strategy', () => {
    const selector = stickySelector();
    const pool = weighted(1, 1, 1);
    const picks = Array.from({ length: 20 }, () => selector.select(pool, { stickyKey: 'chat-42' })!.name);
    expect(new Set(picks).size).toBe(1);
  });

  it('spreads 10,000 keys roughly in proportion to weight', () => {
    const pool = weighted(1, 2, 3, 4);
    const counts = countBy(assignments(stickySelector(), pool), (name) => name);
    pool.forEach((endpoint) => {
      const share = shareOf(counts, endpoint.name, KEYS.length);
      expect(Math.abs(share - endpoint.weight / 10)).toBeLessThan(0.015);
    });
  });

  it('spreads keys evenly across equal weights', () => {
    const pool = weighted(1, 1, 1, 1);
    const counts = countBy(assignments(stickySelector(), pool), (name) => name);
    pool.forEach((endpoint) => {
      expect(Math.abs(shareOf(counts, endpoint.name, KEYS.length) - 0.25)).toBeLessThan(0.015);
    });
  });

  it('moves exactly the keys of a removed endpoint, and spreads them over the rest', () => {
    const pool = weighted(1, 1, 1, 1);
    const before = assignments(stickySelector(), pool);
    const after = assignments(stickySelector(), pool.filter((endpoint) => endpoint.name !== 'c'));
    const moved = new Set<string>();
    KEYS.forEach((_, index) => {
      if (before[index] === 'c') {
        moved.add(after[index]!);
      } else {
        expect(after[index]).toBe(before[index]);
      }
    });
    expect(before.filter((name) => name === 'c').length).toBeGreaterThan(2000);
    expect([...moved].sort()).toEqual(['a', 'b', 'd']);
  });

  it('gives a new endpoint only keys that move onto it', () => {
    const pool = weighted(1, 1, 1);
    const before = assignments(stickySelector(), pool);
    const after = assignments(stickySelector(), [...pool, candidate('new')]);
    const movedKeys = KEYS.filter((_, index) => after[index] !== before[index]);
    expect(movedKeys.every((key) => after[KEYS.indexOf(key)] === 'new')).toBe(true);
    expect(Math.abs(movedKeys.length / KEYS.length - 0.25)).toBeLessThan(0.015);
  });

  it('moves keys only towards an endpoint whose weight grows', () => {
    const before = assignments(stickySelector(), weighted(1, 1, 1));
    const after = assignments(stickySelector(), weighted(1, 3, 1));
    const changed = KEYS.map((_, index) => index).filter((index) => after[index] !== before[index]);
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.every((index) => after[index] === 'b')).toBe(true);
  });

  describe('bounded loads', () => {
    it("sends a hot endpoint's keys to their second choice and leaves other keys alone", () => {
      const idle = weighted(1, 1, 1, 1);
      const firstChoice = assignments(stickySelector(), idle);
      const secondChoice = assignments(stickySelector(), idle.filter((endpoint) => endpoint.name !== 'a'));

      // 2 in flight on a: capacity is ceil(1.25 × 3 / 4) = 1, so a is full.
      const withHotA = idle.map((endpoint) =>
        endpoint.name === 'a' ? { ...endpoint, activeConnections: 2 } : endpoint,
      );
      const routed = assignments(stickySelector(), withHotA);
      KEYS.forEach((_, index) => {
        expect(routed[index]).toBe(firstChoice[index] === 'a' ? secondChoice[index] : firstChoice[index]);
      });
      expect(firstChoice.filter((name) => name === 'a').length).toBeGreaterThan(2000);
    });

    it('keeps keys on their first choice until it reaches capacity', () => {
      const firstChoice = assignments(stickySelector(), weighted(1, 1, 1, 1));
      const keysOfA = KEYS.filter((_, index) => firstChoice[index] === 'a');
      const loaded = (activeOnA: number): MutableCandidate[] =>
        weighted(1, 1, 1, 1).map((endpoint) => ({
          ...endpoint,
          activeConnections: endpoint.name === 'a' ? activeOnA : 3,
        }));
      // a=4, others 3: capacity ceil(1.25 × 14 / 4) = 5, a is under it.
      expect(new Set(assignments(stickySelector(), loaded(4), keysOfA))).toEqual(new Set(['a']));
      // a=5, others 3: capacity ceil(1.25 × 15 / 4) = 5, a is full.
      expect(assignments(stickySelector(), loaded(5), keysOfA)).not.toContain('a');
    });

    it('never exceeds capacity while in-flight requests are added one by one on one hot key', () => {
      const maxLoadFactor = 1.25;
      const selector = stickySelector(maxLoadFactor);
      const pool = weighted(1, 1, 1, 1);
      const favourite = selector.select(pool, { stickyKey: 'hot' })!;
      for (let request = 0; request < 1000; request++) {
        const picked = selector.select(pool, { stickyKey: 'hot' })!;
        expect(picked.activeConnections).toBeLessThan(capacityOf(picked, pool, maxLoadFactor));
        picked.activeConnections += 1;
      }
      const loads = pool.map((endpoint) => endpoint.activeConnections);
      expect(Math.max(...loads)).toBeLessThanOrEqual(Math.ceil((maxLoadFactor * 1000) / 4));
      expect(favourite.activeConnections).toBe(Math.max(...loads));
    });

    it('never exceeds weighted capacity with mixed keys and weights', () => {
      const maxLoadFactor = 1.1;
      const selector = stickySelector(maxLoadFactor);
      const pool = weighted(1, 2, 3, 0.5);
      for (let request = 0; request < 2000; request++) {
        // Few keys, so several endpoints run hot.
        const picked = selector.select(pool, { stickyKey: `tenant-${request % 3}` })!;
        expect(picked.activeConnections).toBeLessThan(capacityOf(picked, pool, maxLoadFactor));
        picked.activeConnections += 1;
      }
      expect(pool.reduce((sum, endpoint) => sum + endpoint.activeConnections, 0)).toBe(2000);
    });

    it('returns keys to their first choice once it cools down', () => {
      const selector = stickySelector();
      const pool = weighted(1, 1, 1, 1);
      const home = selector.select(pool, { stickyKey: 'k' }) as MutableCandidate;
      home.activeConnections = 10;
      expect(selector.select(pool, { stickyKey: 'k' })).not.toBe(home);
      home.activeConnections = 0;
      expect(selector.select(pool, { stickyKey: 'k' })).toBe(home);
    });

    it('matches ceil(maxLoadFactor × (totalActive + 1) / n) exactly for equal fractional weights', () => {
      // Three endpoints of weight 0.7, 11 in flight: capacity ceil(1.25 × 12 / 3) = 5.
      const pool = weighted(0.7, 0.7, 0.7).map((endpoint, index) => ({
        ...endpoint,
        activeConnections: [5, 3, 3][index]!,
      }));
      const firstChoice = assignments(stickySelector(), weighted(1, 1, 1));
      const keysOfA = KEYS.filter((_, index) => firstChoice[index] === 'a');
      expect(assignments(stickySelector(), pool, keysOfA)).not.toContain('a');
      pool[0]!.activeConnections = 4;
      pool[1]!.activeConnections = 4;
      expect(new Set(assignments(stickySelector(), pool, keysOfA))).toEqual(new Set(['a']));
    });

    it('rejects a load factor below 1', () => {
      for (const maxLoadFactor of [0.9, Number.NaN]) {
        expect(() => createSelector('round-robin', { sticky: { maxLoadFactor } })).toThrow(RangeError);
      }
    });
  });
});
