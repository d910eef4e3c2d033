import type { Candidate, TierPicker } from './selector.js';

/**
 * Power of two choices: draw two distinct candidates at random, each with probability in
 * proportion to its weight, and keep the one with the higher `weight / (activeConnections + 1)`
 * (Envoy's least_request score with bias 1). Unlike global least-connections, several Sluice
 * replicas do not all pile onto the same idle endpoint. On equal scores the first drawn wins,
 * which keeps the choice random. Equal weights make the draw uniform.
 *
 * @param random returns a number in [0, 1), like Math.random (injectable for tests)
 */
export function createRandomTwo(random: () => number = Math.random): TierPicker {
  /** Index drawn in proportion to weight, never `skip`. */
  const weightedIndex = (candidates: readonly Candidate[], skip: number): number => {
    let total = 0;
    for (let i = 0; i < candidates.length; i++) if (i !== skip) total += candidates[i]!.weight;
    let target = random() * total;
    let last = -1;
    for (let i = 0; i < candidates.length; i++) {
      if (i === skip) continue;
      last = i;
      target -= candidates[i]!.weight;
      if (target < 0) return i;
    }
    // Only reached through rounding or a generator returning exactly 1.
    return last;
  };

  return {
    pick<T extends Candidate>(candidates: readonly T[]): T {
      const count = candidates.length;
      if (count === 0) {
        throw new RangeError('random-two needs at least one candidate');
      }
      if (count === 1) {
        return candidates[0]!;
      }
      const firstIndex = weightedIndex(candidates, -1);
      const secondIndex = weightedIndex(candidates, firstIndex);
      const first = candidates[firstIndex]!;
      const second = candidates[secondIndex]!;
      return score(second) > score(first) ? second : first;
    },
  };
}

function score(candidate: Candidate): number {
  return candidate.weight / (candidate.activeConnections + 1);
}
