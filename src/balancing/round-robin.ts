import type { Candidate, TierPicker } from './selector.js';

/** Fewest new names between two prunes of the names that stopped being candidates. */
const MIN_PRUNE_STEP = 64;

/** What the picker keeps of one endpoint name. */
interface Peer {
  /** nginx's current weight. */
  current: number;
  /** The last epoch in which the name was a candidate. */
  seen: number;
}

/**
 * nginx's smooth weighted round-robin. Every pick adds each peer's weight to its current
 * weight, takes the peer with the largest current weight and lowers that one by the sum of
 * the weights, which interleaves peers (5,1,1 gives `a a b a c a a`).
 *
 * State is kept per endpoint name so the candidate set may change between picks (model
 * filtering, retries): absent peers keep their current weight, new peers start at 0.
 *
 * Bounded, for names that come and go (DNS discovery names endpoints by address): the state of a
 * name that stopped being a candidate a while ago is dropped, and it starts at 0 should it come
 * back. Once the names kept have grown by MIN_PRUNE_STEP, or by as many as they were after the
 * last prune if more, the names not a candidate since they had grown by half that are dropped.
 * Once a stable fleet's names are all known (every candidate list drawn from them, in any
 * subsets), the names kept no longer grow and nothing is dropped; with churn, the names kept stay
 * within about four times those in recent use (or 1.5 × MIN_PRUNE_STEP more). A name is dropped
 * only when it is not among the candidates of the pick: while the names dropped do not come back,
 * every pick is that of a picker that forgets nothing.
 */
export class SmoothWeightedRoundRobin implements TierPicker {
  readonly #peers = new Map<string, Peer>();
  #epoch = 0;
  /** Names kept at which the epoch advances, once between two prunes. */
  #advanceAt = MIN_PRUNE_STEP / 2;
  /** Names kept at which those not a candidate in the current epoch are dropped. */
  #pruneAt = MIN_PRUNE_STEP;

  /** Endpoint names whose state is kept. */
  get size(): number {
    return this.#peers.size;
  }

  pick<T extends Candidate>(candidates: readonly T[]): T {
    const epoch = this.#epoch;
    let totalWeight = 0;
    let best: T | undefined;
    let bestPeer: Peer | undefined;
    let bestCurrent = -Infinity;
    for (const candidate of candidates) {
      const peer = this.#peerOf(candidate.name);
      peer.current += candidate.weight;
      peer.seen = epoch;
      totalWeight += candidate.weight;
      // Strict comparison: on a tie the earlier peer wins, as in nginx.
      if (peer.current > bestCurrent) {
        bestCurrent = peer.current;
        best = candidate;
        bestPeer = peer;
      }
    }
    if (best === undefined || bestPeer === undefined) {
      throw new RangeError('smooth weighted round-robin needs at least one candidate');
    }
    bestPeer.current = bestCurrent - totalWeight;
    this.#bound();
    return best;
  }

  #peerOf(name: string): Peer {
    let peer = this.#peers.get(name);
    if (peer === undefined) {
      peer = { current: 0, seen: this.#epoch };
      this.#peers.set(name, peer);
    }
    return peer;
  }

  /** After a pick (every candidate of which was seen in the current epoch): advances the epoch or prunes, when due. */
  #bound(): void {
    const size = this.#peers.size;
    if (size >= this.#pruneAt) this.#prune();
    else if (size >= this.#advanceAt) {
      this.#epoch++;
      this.#advanceAt = Infinity;
    }
  }

  /** Drops the names not a candidate in the current epoch; sets when to advance and prune next. */
  #prune(): void {
    const epoch = this.#epoch;
    for (const [name, peer] of this.#peers) if (peer.seen !== epoch) this.#peers.delete(name);
    const kept = this.#peers.size;
    const step = Math.max(MIN_PRUNE_STEP, kept);
    this.#advanceAt = kept + step / 2;
    this.#pruneAt = kept + step;
  }
}

export function createRoundRobin(): TierPicker {
  return new SmoothWeightedRoundRobin();
}
