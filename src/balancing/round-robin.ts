import type { Candidate, TierPicker } from './selector.js';

/**
 * nginx's smooth weighted round-robin. Every pick adds each peer's weight to its current
 * weight, takes the peer with the largest current weight and lowers that one by the sum of
 * the weights, which interleaves peers (5,1,1 gives `a a b a c a a`).
 *
 * State is kept per endpoint name so the candidate set may change between picks (model
 * filtering, retries): absent peers keep their current weight, new peers start at 0.
 */
export class SmoothWeightedRoundRobin implements TierPicker {
  private readonly currentWeights = new Map<string, number>();

  pick<T extends Candidate>(candidates: readonly T[]): T {
    let totalWeight = 0;
    let best: T | undefined;
    let bestCurrent = -Infinity;
    for (const candidate of candidates) {
      const current = (this.currentWeights.get(candidate.name) ?? 0) + candidate.weight;
      this.currentWeights.set(candidate.name, current);
      totalWeight += candidate.weight;
      // Strict comparison: on a tie the earlier peer wins, as in nginx.
      if (current > bestCurrent) {
        bestCurrent = current;
        best = candidate;
      }
    }
    if (best === undefined) {
      throw new RangeError('smooth weighted round-robin needs at least one candidate');
    }
    this.currentWeights.set(best.name, bestCurrent - totalWeight);
    return best;
  }
}

export function createRoundRobin(): TierPicker {
  return new SmoothWeightedRoundRobin();
}
