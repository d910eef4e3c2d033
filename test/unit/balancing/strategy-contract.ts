import { describe, expect, it } from 'vitest';
import type { PickContext, Selector } from '../../../src/balancing/index.js';
import { createRandom } from '../../../src/model-server/prng.js';
import { candidate, countBy, shareOf, weighted, type MutableCandidate } from './support.js';

export interface ContractSubject {
  readonly title: string;
  readonly build: () => Selector;
  /** The context for pick number `index` (sticky variants vary the key per pick). */
  readonly contextFor: (index: number) => PickContext | undefined;
  /** Largest accepted gap between an endpoint's share of picks and its share of the weight. */
  readonly weightTolerance: number;
}

/**
 * Runs a closed loop with `concurrency` requests in flight: each step completes the oldest
 * request, then routes a new one. With equal request durations an endpoint's share of picks
 * follows its share of in-flight load, which is how weights play out for load-aware strategies.
 */
function closedLoopShares(
  subject: ContractSubject,
  weights: readonly number[],
  picks: number,
  concurrency: number,
): number[] {
  const selector = subject.build();
  const pool = weighted(...weights);
  const inFlight: MutableCandidate[] = [];
  const chosen: string[] = [];
  for (let index = 0; index < picks; index++) {
    if (inFlight.length === concurrency) inFlight.shift()!.activeConnections -= 1;
    const picked = selector.select(pool, subject.contextFor(index))!;
    picked.activeConnections += 1;
    inFlight.push(picked);
    chosen.push(picked.name);
  }
  const counts = countBy(chosen, (name) => name);
  return pool.map((endpoint) => shareOf(counts, endpoint.name, picks));
}

function pickMany(subject: ContractSubject, pool: readonly MutableCandidate[], picks: number): string[] {
  const selector = subject.build();
  const names: string[] = [];
  for (let index = 0; index < picks; index++) {
    names.push(selector.select(pool, subject.contextFor(index))!.name);
  }
  return names;
}

/** Behaviour every selector must have, whatever the strategy and with or without sticky keys. */
export function selectorContract(subject: ContractSubject): void {
  describe(`selector contract: ${subject.title}`, () => {
    it('returns undefined for an empty list', () => {
      expect(subject.build().select([], subject.contextFor(0))).toBeUndefined();
    });

    it('returns the only candidate of a one-element list', () => {
      const only = candidate('solo', { weight: 0.2, activeConnections: 7 });
      expect(subject.build().select([only], subject.contextFor(0))).toBe(only);
    });

    it('only ever returns one of the candidates it was given, even as the set changes', () => {
      const selector = subject.build();
      const random = createRandom(7);
      const pool = weighted(1, 2, 3, 0.5, 4, 1.5);
      for (let index = 0; index < 2000; index++) {
        for (const endpoint of pool) endpoint.activeConnections = Math.floor(random() * 5);
        const subset = pool.filter(() => random() < 0.6);
        const picked = selector.select(subset, subject.contextFor(index));
        if (subset.length === 0) {
          expect(picked).toBeUndefined();
        } else {
          expect(subset).toContain(picked);
        }
      }
    });

    it('honours weights over many picks under load', () => {
      const weights = [3, 1, 2, 0.5];
      const total = weights.reduce((sum, weight) => sum + weight, 0);
      const shares = closedLoopShares(subject, weights, 20_000, 64);
      const expected = weights.map((weight) => weight / total);
      shares.forEach((share, index) => {
        expect(Math.abs(share - expected[index]!)).toBeLessThan(subject.weightTolerance);
      });
    });

    it('uses only the highest priority among primaries', () => {
      const pool = [
        candidate('low', { priority: 1 }),
        candidate('top-1', { priority: 2 }),
        candidate('backup', { priority: 9, backup: true }),
        candidate('top-2', { priority: 2 }),
      ];
      const names = new Set(pickMany(subject, pool, 300));
      expect([...names].sort()).toEqual(['top-1', 'top-2']);
    });

    it('uses backups only when no primary is present, highest priority first', () => {
      const backups = [
        candidate('backup-low', { priority: 0, backup: true }),
        candidate('backup-high-1', { priority: 3, backup: true }),
        candidate('backup-high-2', { priority: 3, backup: true }),
      ];
      expect(new Set(pickMany(subject, backups, 300))).toEqual(
        new Set(['backup-high-1', 'backup-high-2']),
      );

      const lonePrimary = candidate('primary', { priority: -5, activeConnections: 50 });
      expect(new Set(pickMany(subject, [...backups, lonePrimary], 100))).toEqual(new Set(['primary']));
    });
  });
}
