import { hashString, unitInterval, type Hash64 } from './hash.js';
import type { Candidate, StickyOptions } from './selector.js';

/**
 * Sticky routing: weighted rendezvous hashing (highest random weight) with bounded loads
 * (Mirrokni, Thorup and Zadimoghaddam, SODA 2018; HAProxy `hash-balance-factor`).
 *
 * Each endpoint scores `-weight / ln(u)` with u in (0, 1) hashed from the key and the
 * endpoint name; the highest score wins, so an endpoint gets keys in proportion to its
 * weight, replicas agree without talking, and removing an endpoint moves only its keys.
 * Every endpoint may hold at most its weight's share of maxLoadFactor × (totalActive + 1)
 * requests, rounded up: ceil(maxLoadFactor × (totalActive + 1) / n) when weights are equal,
 * scaled by weight otherwise (as HAProxy does) so heavy endpoints are not capped at the
 * average. The key goes to the first endpoint in score order that is under its capacity.
 */
const CEIL_MARGIN = 1e-9;

export class StickyPicker {
  private readonly maxLoadFactor: number;

  constructor(options: StickyOptions) {
    if (!Number.isFinite(options.maxLoadFactor) || options.maxLoadFactor < 1) {
      // Below 1 the capacities add up to less than the load and every endpoint could be full.
      throw new RangeError(`sticky maxLoadFactor must be >= 1, got ${options.maxLoadFactor}`);
    }
    this.maxLoadFactor = options.maxLoadFactor;
  }

  /** Picks for `key` among a non-empty tier of candidates. */
  pick<T extends Candidate>(candidates: readonly T[], key: string): T {
    if (candidates.length === 0) {
      throw new RangeError('sticky selection needs at least one candidate');
    }
    const keyHash = hashString(key);
    const scores = candidates.map((candidate) => rendezvousScore(keyHash, candidate));
    const hasRoom = this.roomCheck(candidates);

    let bestIndex = 0;
    for (let index = 1; index < candidates.length; index++) {
      if (ranksBefore(candidates, scores, index, bestIndex)) bestIndex = index;
    }
    if (hasRoom(candidates[bestIndex]!)) {
      return candidates[bestIndex]!;
    }

    // Rare path: the first choice is hot, walk the rest in score order.
    const order = candidates.map((_, index) => index);
    order.sort((left, right) => (ranksBefore(candidates, scores, left, right) ? -1 : 1));
    const underCapacity = order.find((index) => hasRoom(candidates[index]!));
    // Capacities add up to at least totalActive + 1, so some endpoint always has room;
    // the fallback only guards against float rounding.
    return candidates[underCapacity ?? bestIndex]!;
  }

  /** Returns whether a candidate is under its bounded-load capacity for this pick. */
  private roomCheck(candidates: readonly Candidate[]): (candidate: Candidate) => boolean {
    let totalActive = 0;
    let totalWeight = 0;
    for (const candidate of candidates) {
      totalActive += candidate.activeConnections;
      totalWeight += candidate.weight;
    }
    const slotsPerWeight = (this.maxLoadFactor * (totalActive + 1)) / totalWeight;
    // The margin stops float noise from adding a slot: three endpoints of weight 0.7 with
    // 11 in flight would otherwise get 5.000000000000001, rounded up to 6, instead of 5.
    return (candidate) =>
      candidate.activeConnections < Math.ceil(slotsPerWeight * candidate.weight - CEIL_MARGIN);
  }
}

function rendezvousScore(keyHash: Hash64, candidate: Candidate): number {
  const uniform = unitInterval(keyHash, hashString(candidate.name));
  return -candidate.weight / Math.log(uniform);
}

/** Higher score first; equal scores fall back to the name so every replica orders alike. */
function ranksBefore(
  candidates: readonly Candidate[],
  scores: readonly number[],
  left: number,
  right: number,
): boolean {
  if (scores[left]! !== scores[right]!) return scores[left]! > scores[right]!;
  return candidates[left]!.name < candidates[right]!.name;
}
