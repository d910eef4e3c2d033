import type { Candidate, TierPicker } from './selector.js';

/**
 * Power of two choices: draw two distinct candidates uniformly at random and keep the one
 * with the higher `weight / (activeConnections + 1)` (Envoy's least_request score with bias 1).
 * Unlike global least-connections, several Sluice replicas do not all pile onto the same
 * idle endpoint. On equal scores the first drawn wins, which keeps the choice random.
 *
 * @param random returns a number in [0, 1), like Math.random (injectable for tests)
 */
export function createRandomTwo(random: () => number = Math.random): TierPicker {
  const randomIndex = (size: number): number =>
    // Clamp: a generator returning exactly 1 must not index past the end.
    Math.min(size - 1, Math.floor(random() * size));

  return {
    pick<T extends Candidate>(candidates: readonly T[]): T {
      const count = candidates.length;
      if (count === 0) {
        throw new RangeError('random-two needs at least one candidate');
      }
      if (count === 1) {
        return candidates[0]!;
      }
      const firstIndex = randomIndex(count);
      // Draw from the remaining count-1 slots so the second is always a different candidate.
      let secondIndex = randomIndex(count - 1);
      if (secondIndex >= firstIndex) {
        secondIndex += 1;
      }
      const first = candidates[firstIndex]!;
      const second = candidates[secondIndex]!;
      return score(second) > score(first) ? second : first;
    },
  };
}

function score(candidate: Candidate): number {
  return candidate.weight / (candidate.activeConnections + 1);
}
