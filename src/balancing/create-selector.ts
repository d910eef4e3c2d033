import { createLeastConnections } from './least-connections.js';
import { createRandomTwo } from './random-two.js';
import { createRoundRobin } from './round-robin.js';
import type {
  Candidate,
  PickContext,
  Selector,
  StickyOptions,
  StrategyName,
  TierPicker,
} from './selector.js';
import { StickyPicker } from './sticky.js';
import { preferredTier } from './tiers.js';

export interface SelectorOptions {
  /** Enables sticky routing for picks that carry a `stickyKey`. */
  readonly sticky?: StickyOptions;
  /** Source of randomness for `random-two`, in [0, 1). Defaults to Math.random. */
  readonly random?: () => number;
}

/**
 * Builds a selector: it narrows to the preferred tier, then routes by sticky key when one is
 * given and sticky options are set, otherwise by `strategy`. Each selector keeps its own
 * rotation state, so build one per pool and reuse it.
 */
export function createSelector(strategy: StrategyName, options: SelectorOptions = {}): Selector {
  const strategyPicker = createStrategyPicker(strategy, options);
  const stickyPicker = options.sticky ? new StickyPicker(options.sticky) : undefined;
  return {
    name: strategy,
    select<T extends Candidate>(candidates: readonly T[], ctx?: PickContext): T | undefined {
      const tier = preferredTier(candidates);
      if (tier.length === 0) return undefined;
      const stickyKey = ctx?.stickyKey;
      if (stickyPicker && stickyKey !== undefined) {
        return stickyPicker.pick(tier, stickyKey);
      }
      return strategyPicker.pick(tier);
    },
  };
}

function createStrategyPicker(strategy: StrategyName, options: SelectorOptions): TierPicker {
  switch (strategy) {
    case 'round-robin':
      return createRoundRobin();
    case 'least-connections':
      return createLeastConnections();
    case 'random-two':
      return createRandomTwo(options.random);
    default: {
      // Reachable from untyped configuration; the compiler proves every known name is handled.
      const unknown: never = strategy;
      throw new RangeError(`unknown balancing strategy: ${String(unknown)}`);
    }
  }
}
