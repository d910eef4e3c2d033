import { describe, expect, it } from 'vitest';
import { createSelector, type Candidate } from '../../../src/balancing/index.js';
import { SmoothWeightedRoundRobin } from '../../../src/balancing/round-robin.js';
import { weighted } from './support.js';

function sequence(
  picker: { pick(candidates: readonly Candidate[]): Candidate },
  pool: readonly Candidate[],
  picks: number,
): string {
  let names = '';
  for (let index = 0; index < picks; index++) names += picker.pick(pool).name;
  return names;
}

describe('smooth weighted round-robin', () => {
  it('interleaves weights 5, 1, 1 as a a b a c a a, cycle after cycle', () => {
    const picker = new SmoothWeightedRoundRobin();
    expect(sequence(picker, weighted(5, 1, 1), 21)).toBe('aabacaa'.repeat(3));
  });

  it('gives weight 3 against two weight-1 peers exactly 3 of every 5 picks, never 3 in a row', () => {
    const selector = createSelector('round-robin');
    const pool = weighted(3, 1, 1);
    let names = '';
    for (let index = 0; index < 50; index++) names += selector.select(pool)!.name;
    expect(names).toBe('abaca'.repeat(10));
    for (let start = 0; start < names.length; start += 5) {
      expect([...names.slice(start, start + 5)].filter((name) => name === 'a')).toHaveLength(3);
    }
    expect(names).not.toContain('aaa');
  });

  it('handles fractional weights exactly over a full cycle', () => {
    const picker = new SmoothWeightedRoundRobin();
    const names = sequence(picker, weighted(0.5, 1.5), 400);
    expect([...names].filter((name) => name === 'a')).toHaveLength(100);
    expect(names.slice(0, 8)).toBe('babbbabb');
  });

  it('keeps the state of peers that are absent from a pick', () => {
    const picker = new SmoothWeightedRoundRobin();
    const [a, b, c] = weighted(1, 1, 1) as [Candidate, Candidate, Candidate];
    expect(picker.pick([a, b, c]).name).toBe('a'); // a=-2 b=1 c=1
    expect(picker.pick([c]).name).toBe('c'); // a lone peer's state does not change
    // Had b's and c's state been dropped, a would win again here.
    expect(picker.pick([a, b, c]).name).toBe('b');
    expect(picker.pick([a, b, c]).name).toBe('c');
    expect(picker.pick([a, b, c]).name).toBe('a');
  });

  it('starts a new peer at zero without disturbing the others', () => {
    const picker = new SmoothWeightedRoundRobin();
    const [a, b, c] = weighted(1, 1, 1) as [Candidate, Candidate, Candidate];
    expect(picker.pick([a, b]).name).toBe('a'); // a=-1 b=1
    // a: 0, b: 2, c: 1 -> b; then a: 1, b: 0, c: 2 -> c; then a: 2, b: 1, c: 0 -> a.
    expect(sequence(picker, [a, b, c], 3)).toBe('bca');
  });

  it('keeps separate state per selector', () => {
    const pool = weighted(1, 1);
    const first = createSelector('round-robin');
    const second = createSelector('round-robin');
    expect(first.select(pool)!.name).toBe('a');
    expect(first.select(pool)!.name).toBe('b');
    expect(second.select(pool)!.name).toBe('a');
  });

  it('forgets names that stopped being candidates without changing any pick of the names in use', () => {
    // nginx's rule with nothing ever forgotten, for comparison.
    const remembered = new Map<string, number>();
    const reference = (pool: readonly Candidate[]): string => {
      let total = 0;
      let best = pool[0]!;
      let bestCurrent = -Infinity;
      for (const peer of pool) {
        const current = (remembered.get(peer.name) ?? 0) + peer.weight;
        remembered.set(peer.name, current);
        total += peer.weight;
        if (current > bestCurrent) [best, bestCurrent] = [peer, current];
      }
      remembered.set(best.name, bestCurrent - total);
      return best.name;
    };
    const picker = new SmoothWeightedRoundRobin();
    const stable = weighted(5, 1, 1);
    let maxKept = 0;
    for (let turn = 0; turn < 7_000; turn++) {
      // Pods that each serve ten picks next to the stable endpoints, then go for good; and picks
      // of the stable endpoints alone in between.
      const pod = Math.floor(turn / 10);
      const pool = [...stable, { ...stable[1]!, name: `pod-${pod}@10.0.${pod >> 8}.${pod & 255}:8000`, weight: 2 }];
      expect(picker.pick(pool).name).toBe(reference(pool));
      expect(picker.pick(stable).name).toBe(reference(stable));
      maxKept = Math.max(maxKept, picker.size);
    }
    expect(remembered.size).toBe(703);
    expect(maxKept).toBeLessThan(100);
  });

  it('keeps the rotation of a stable fleet identical across prunes of lone names gone by', () => {
    const picker = new SmoothWeightedRoundRobin();
    const stable = weighted(5, 1, 1);
    let names = '';
    let maxKept = 0;
    for (let turn = 0; turn < 2_100; turn++) {
      names += picker.pick(stable).name;
      picker.pick([{ ...stable[2]!, name: `gone-${turn}` }]);
      maxKept = Math.max(maxKept, picker.size);
    }
    expect(names).toBe('aabacaa'.repeat(300));
    expect(maxKept).toBeLessThan(100);
  });

  it('is bounded: 200,000 names that come and go leave about as many as are in use', () => {
    const picker = new SmoothWeightedRoundRobin();
    const stable = weighted(1, 1, 1);
    let maxKept = 0;
    for (let turn = 0; turn < 200_000; turn++) {
      picker.pick([...stable, { ...stable[0]!, name: `pod-${turn}@10.${turn >> 16}.${(turn >> 8) & 255}.${turn & 255}:8000` }]);
      maxKept = Math.max(maxKept, picker.size);
    }
    // Four names in use at a time: at most 1.5 × 64 more.
    expect(maxKept).toBeLessThanOrEqual(4 + 96);
  });
});
