import { SmoothWeightedRoundRobin } from './round-robin.js';
import type { Candidate, TierPicker } from './selector.js';

/** Loads this close (relative) count as equal, so float noise in the division cannot break a tie. */
const TIE_TOLERANCE = 1e-9;

/**
 * Least connections relative to weight (nginx `least_conn`): minimise
 * activeConnections / weight. Peers tied on that load are rotated with smooth weighted
 * round-robin, so idle peers share traffic by weight instead of the first one taking it all.
 */
export function createLeastConnections(): TierPicker {
  const tieBreaker = new SmoothWeightedRoundRobin();
  return {
    pick<T extends Candidate>(candidates: readonly T[]): T {
      let lowestLoad = Infinity;
      for (const candidate of candidates) {
        lowestLoad = Math.min(lowestLoad, relativeLoad(candidate));
      }
      const limit = lowestLoad + TIE_TOLERANCE * Math.max(1, lowestLoad);
      const tied = candidates.filter((candidate) => relativeLoad(candidate) <= limit);
      return tieBreaker.pick(tied);
    },
  };
}

function relativeLoad(candidate: Candidate): number {
  return candidate.activeConnections / candidate.weight;
}
