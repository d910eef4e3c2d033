export type {
  Candidate,
  PickContext,
  Selector,
  StickyOptions,
  StrategyName,
} from './selector.js';
export { createSelector } from './create-selector.js';
export { preferredTier } from './tiers.js';
