import { CacheRegime, WORKING_SET_WINDOW_MS } from './cache-regime.js';
import type { RouteDecision } from './decision.js';
import { createLeastConnections } from './least-connections.js';
import { PrefixIndex } from './prefix-index.js';
import { createRandomTwo } from './random-two.js';
import { createRoundRobin } from './round-robin.js';
import { ScoredPicker, type LoadLookup, type ScorerWeights } from './scored.js';
import type { Candidate, PickContext, Selector, StickyOptions, StrategyName, TierPicker } from './selector.js';
import { StickyPicker } from './sticky.js';
import { preferredTier } from './tiers.js';

/** `prefix-aware` settings (`balancing.prefix`). */
export interface PrefixOptions {
  /** Block hashes remembered. */
  readonly indexSize: number;
  readonly ttlMs: number;
  readonly maxImbalanceRatio: number;
  readonly maxImbalanceRequests: number;
  /**
   * While the recent prompts' distinct blocks need at most this fraction of the smallest
   * candidate's reported KV cache, follow the prefix only when its endpoint is among the least
   * loaded, else balance on load (the prefix breaking ties); 0 or absent never does.
   */
  readonly fitFraction?: number;
  /** Estimated tokens per prompt block (`block_chars` / 4). */
  readonly blockTokens?: number;
}

export interface SelectorOptions {
  /** Enables sticky routing for picks that carry a `stickyKey`. */
  readonly sticky?: StickyOptions;
  /** Source of randomness for `random-two`, in [0, 1). Defaults to Math.random. */
  readonly random?: () => number;
  /** Scorer weights of `load-aware` and `prefix-aware`; defaults to 1 each. */
  readonly weights?: ScorerWeights;
  /** Backend-reported load for the scoring strategies; without it they use Sluice's own counts. */
  readonly load?: LoadLookup;
  /** Required settings of `prefix-aware` (defaults as in the configuration schema otherwise). */
  readonly prefix?: PrefixOptions;
  /** Clock of the prefix index (Date.now by default). */
  readonly now?: () => number;
  /**
   * The index of the selector this one replaces (a reload): kept when its size and TTL are
   * unchanged, so that a reload does not forget what the backends' caches hold.
   */
  readonly previousIndex?: PrefixIndex;
}

/** Scorer weights when none are given; the configuration's defaults (`balancing.scorers`) are these. */
export const DEFAULT_SCORER_WEIGHTS: ScorerWeights = { queue: 1, kvCache: 1, prefix: 1, resident: 1 };

/** Prefix-aware settings when none are given; the configuration's defaults (`balancing.prefix`) are these. */
export const DEFAULT_PREFIX_OPTIONS = { indexSize: 100_000, ttlMs: 600_000, maxImbalanceRatio: 1.5, maxImbalanceRequests: 2, fitFraction: 0, blockTokens: 64 } as const satisfies PrefixOptions;

/** A selector with its prefix index, when it has one (for metrics). */
export interface BuiltSelector extends Selector {
  readonly prefixIndex?: PrefixIndex;
}

/**
 * Builds a selector: it narrows to the preferred tier, then routes by sticky key when one is
 * given and sticky options are set, otherwise by `strategy`. Each selector keeps its own
 * rotation state (and prefix index), so build one per pool and reuse it.
 */
export function createSelector(strategy: StrategyName, options: SelectorOptions = {}): BuiltSelector {
  const decideInTier = createStrategy(strategy, options);
  const stickyPicker = options.sticky ? new StickyPicker(options.sticky) : undefined;
  const index = decideInTier.prefixIndex;
  const decide = <T extends Candidate>(candidates: readonly T[], ctx?: PickContext): RouteDecision<T> | undefined => {
    const tier = preferredTier(candidates);
    if (tier.length === 0) return undefined;
    const stickyKey = ctx?.stickyKey;
    if (stickyPicker && stickyKey !== undefined) return { endpoint: stickyPicker.pick(tier, stickyKey), reason: 'sticky' };
    return decideInTier.decide(tier, ctx);
  };
  // Only where the request goes is learnt: a pick given up must not claim the prompt's blocks.
  const sent = (endpoint: string, ctx?: PickContext): void => {
    const blocks = ctx?.prompt?.blocks;
    if (index && blocks && blocks.length > 0) index.record(blocks, endpoint);
  };
  return {
    name: strategy,
    prefixIndex: index,
    decide,
    sent,
    select: (candidates, ctx) => {
      const picked = decide(candidates, ctx)?.endpoint;
      if (picked) sent(picked.name, ctx);
      return picked;
    },
  };
}

interface StrategyDecider {
  decide<T extends Candidate>(tier: readonly T[], ctx: PickContext | undefined): RouteDecision<T>;
  readonly prefixIndex?: PrefixIndex;
}

function createStrategy(strategy: StrategyName, options: SelectorOptions): StrategyDecider {
  switch (strategy) {
    case 'round-robin':
      return plain(createRoundRobin());
    case 'least-connections':
      return plain(createLeastConnections());
    case 'random-two':
      return plain(createRandomTwo(options.random));
    case 'load-aware':
      return new ScoredPicker({ weights: options.weights ?? DEFAULT_SCORER_WEIGHTS, load: options.load });
    case 'prefix-aware': {
      const settings = options.prefix ?? DEFAULT_PREFIX_OPTIONS;
      const wanted = { capacity: settings.indexSize, ttlMs: settings.ttlMs };
      const index = options.previousIndex?.fits(wanted) ? options.previousIndex : new PrefixIndex({ ...wanted, now: options.now });
      const fitFraction = settings.fitFraction ?? DEFAULT_PREFIX_OPTIONS.fitFraction;
      // The working set is measured over as many blocks as the index remembers; past that it reads as pressure.
      const regime = fitFraction > 0 ? new CacheRegime({ fitFraction, blockTokens: settings.blockTokens ?? DEFAULT_PREFIX_OPTIONS.blockTokens, windowMs: WORKING_SET_WINDOW_MS, maxBlocks: settings.indexSize, now: options.now ?? Date.now }) : undefined;
      const picker = new ScoredPicker({
        weights: options.weights ?? DEFAULT_SCORER_WEIGHTS,
        load: options.load,
        prefix: { index, maxImbalanceRatio: settings.maxImbalanceRatio, maxImbalanceRequests: settings.maxImbalanceRequests, regime },
      });
      return { prefixIndex: index, decide: (tier, ctx) => picker.decide(tier, ctx) };
    }
    default: {
      // Reachable from untyped configuration; the compiler proves every known name is handled.
      const unknown: never = strategy;
      throw new RangeError(`unknown balancing strategy: ${String(unknown)}`);
    }
  }
}

function plain(picker: TierPicker): StrategyDecider {
  return { decide: (tier) => ({ endpoint: picker.pick(tier), reason: 'strategy' }) };
}
