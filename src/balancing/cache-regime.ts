import { grown, LruBlockTable } from './block-table.js';
import type { CandidateScore } from './decision.js';

/**
 * Whether prefix affinity can pay off: the cache regime of the fleet, from the prompts' recent
 * working set and the endpoints' KV-cache sizes.
 *
 * Affinity saves prefill only when spreading a prefix over the endpoints would get it evicted
 * somewhere. If the distinct prompt blocks sent recently (the working set, Denning's W(t, τ))
 * fit in the smallest candidate's KV cache with room to spare, every endpoint can hold all of
 * them: an endpoint that misses a prefix prefills it once and keeps it, so following the prefix
 * saves only that first prefill, and must not cost queueing behind the endpoints that hold
 * popular prefixes. Then the prefix is followed only while its endpoint is among the least
 * loaded (by requests per weight); otherwise the load decides and the prefix only breaks ties.
 * When the working set does not fit (cache pressure), or any candidate's cache size is unknown
 * (no load source, Ollama), affinity stays within the usual imbalance thresholds.
 *
 * The working set is counted over all of Sluice's prefix-aware requests whatever their route,
 * so the signal does not depend on the routing it steers. Pure bookkeeping with an injected clock.
 */

/** What the regime allows: `fits` follows the prefix only at no queueing cost; `pressure` and `unknown` keep affinity. */
export type CacheRegimeName = 'fits' | 'pressure' | 'unknown';

export interface CacheRegimeOptions {
  /**
   * The working set fits when its tokens are at most this fraction of the smallest candidate's
   * KV cache (`balancing.prefix.fit_fraction`); the rest is left for the running sequences'
   * own blocks. 0 never finds a fit (affinity always).
   */
  readonly fitFraction: number;
  /** Estimated tokens per prompt block (`block_chars` / 4 characters a token). */
  readonly blockTokens: number;
  /** Blocks served within this window make up the working set. */
  readonly windowMs: number;
  /**
   * Most distinct blocks tracked; past it the working set is saturated (treated as pressure),
   * so memory stays bounded whatever the traffic.
   */
  readonly maxBlocks: number;
  readonly now: () => number;
}

/** Blocks served within a minute: conversations and shared system prompts come back within it. */
export const WORKING_SET_WINDOW_MS = 60_000;

/**
 * A block seen again sooner than this after its last refresh keeps its place in the time order,
 * so that hot blocks (a shared system prompt) cost one lookup. The count then forgets a block up
 * to this much early, a small undercount against the window.
 */
const REFRESH_FRACTION = 1 / 16;

export class CacheRegime {
  /**
   * The distinct blocks served within the window, in refresh order (oldest first), with when
   * each was last refreshed. A typed-array table: a Map whose entries are deleted and re-added
   * on every refresh leaves deleted slots that each walk from its oldest end has to skip, which
   * made a decision over a large working set cost milliseconds.
   */
  readonly #blocks: LruBlockTable;
  #refreshedAt = new Float64Array(0);
  readonly #opts: CacheRegimeOptions;
  readonly #refreshMs: number;

  constructor(options: CacheRegimeOptions) {
    if (!(options.fitFraction >= 0)) throw new RangeError(`fit fraction must be at least 0, got ${options.fitFraction}`);
    if (!(options.blockTokens > 0)) throw new RangeError(`block tokens must be positive, got ${options.blockTokens}`);
    if (!(options.windowMs > 0)) throw new RangeError(`working-set window must be positive, got ${options.windowMs}`);
    if (!Number.isInteger(options.maxBlocks) || options.maxBlocks < 1) throw new RangeError(`max blocks must be a positive integer, got ${options.maxBlocks}`);
    this.#opts = options;
    this.#refreshMs = options.windowMs * REFRESH_FRACTION;
    // Saturated, the table forgets its oldest block for each new one: the count stays at the cap.
    this.#blocks = new LruBlockTable(options.maxBlocks, (slots) => (this.#refreshedAt = grown(this.#refreshedAt, new Float64Array(slots))));
  }

  /** Counts a prompt's blocks as served now. */
  observe(blocks: readonly number[]): void {
    const now = this.#opts.now();
    const table = this.#blocks;
    for (let i = 0; i < blocks.length; i++) {
      let slot = table.find(blocks[i]!);
      if (slot !== -1) {
        if (now - this.#refreshedAt[slot]! < this.#refreshMs) continue;
        table.touch(slot);
      } else {
        slot = table.insert(blocks[i]!);
      }
      this.#refreshedAt[slot] = now;
    }
  }

  /** Estimated tokens of the distinct blocks served within the window. */
  workingSetTokens(): number {
    this.#expire();
    return this.#blocks.size * this.#opts.blockTokens;
  }

  /**
   * The regime for these candidates' KV-cache sizes in tokens (undefined: not reported).
   * `fits` needs every size known and the working set within `fitFraction` of the smallest.
   * `count`: how many of `candidates` to read (the first ones), all by default.
   */
  classify(candidates: ArrayLike<{ readonly kvCapacityTokens?: number | undefined }>, count = candidates.length): CacheRegimeName {
    let smallest = Infinity;
    for (let i = 0; i < count; i++) {
      const capacity = candidates[i]!.kvCapacityTokens;
      if (capacity === undefined || !(capacity > 0)) return 'unknown';
      smallest = Math.min(smallest, capacity);
    }
    if (!Number.isFinite(smallest)) return 'unknown';
    this.#expire();
    if (this.#blocks.size >= this.#opts.maxBlocks) return 'pressure';
    return this.#blocks.size * this.#opts.blockTokens <= this.#opts.fitFraction * smallest ? 'fits' : 'pressure';
  }

  /** Forgets blocks last refreshed before the window. */
  #expire(): void {
    const oldest = this.#opts.now() - this.#opts.windowMs;
    const table = this.#blocks;
    for (let slot = table.oldest(); slot !== -1 && this.#refreshedAt[slot]! < oldest; slot = table.oldest()) table.remove(slot);
  }
}

/**
 * The candidates a load-first choice admits: the best total without the prefix score (the load
 * scores) and, among those, the ones holding the longest part of the prompt. The caller rotates
 * among what is left.
 */
export function loadFirst(scores: readonly CandidateScore[], prefixWeight: number, matched: ArrayLike<number>, tolerance: number): (index: number) => boolean {
  const loadTotal = (i: number) => scores[i]!.total - prefixWeight * scores[i]!.prefix;
  let highest = -Infinity;
  for (let i = 0; i < scores.length; i++) highest = Math.max(highest, loadTotal(i));
  const limit = highest - tolerance * Math.max(1, Math.abs(highest));
  let longest = 0;
  for (let i = 0; i < scores.length; i++) if (loadTotal(i) >= limit) longest = Math.max(longest, matched[i]!);
  return (i) => loadTotal(i) >= limit && matched[i]! === longest;
}
