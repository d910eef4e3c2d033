export type { Candidate, PickContext, PromptFacts, Selector, StickyOptions, StrategyName } from './selector.js';
export { STRATEGY_NAMES } from './selector.js';
export {
  EXCLUSION_REASONS,
  ROUTE_REASONS,
  withExclusions,
  type CandidateScore,
  type Exclusion,
  type ExclusionReason,
  type RouteDecision,
  type RouteReason,
} from './decision.js';
export { createSelector, DEFAULT_PREFIX_OPTIONS, DEFAULT_SCORER_WEIGHTS, type BuiltSelector, type PrefixOptions, type SelectorOptions } from './create-selector.js';
export { hashBlock } from './hash.js';
export { PrefixIndex, type PrefixIndexOptions } from './prefix-index.js';
export type { LoadLookup, ScorerWeights } from './scored.js';
export { preferredTier } from './tiers.js';
