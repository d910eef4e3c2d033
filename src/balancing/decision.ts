/**
 * Why a request went where it went. The reasons are closed sets: they label metrics.
 * - `strategy`: round-robin, least-connections or random-two chose;
 * - `sticky`: the sticky key's rendezvous choice (or its bounded-load overflow);
 * - `load`: the best weighted score (load-aware, or prefix-aware without a prompt);
 * - `prefix_match`: the endpoint that served the longest part of this prompt;
 * - `prefix_hash`: no endpoint known for the prompt, rendezvous hash of its first block;
 * - `prefix_imbalance`: the prefix choice was too busy next to the least loaded, scores chose;
 * - `prefix_fits`: the recent prompts fit every candidate's KV cache and the prefix choice had
 *   more requests (per weight) than the least loaded, so the load chose and the prefix only broke
 *   ties (see cache-regime.ts). Otherwise, in that regime too, `prefix_match` or `prefix_hash`;
 * - `stored_response`: the endpoint that created the stored response the request names (a
 *   Responses API follow-up), which alone can answer it.
 */
export const ROUTE_REASONS = ['strategy', 'sticky', 'load', 'prefix_match', 'prefix_hash', 'prefix_imbalance', 'prefix_fits', 'stored_response'] as const;
export type RouteReason = (typeof ROUTE_REASONS)[number];

/** Why an endpoint was not a candidate for an attempt. */
export const EXCLUSION_REASONS = [
  'model_not_served',
  'already_tried',
  'retired',
  'unhealthy',
  'breaker_open',
  'cooling_down',
  'at_capacity',
  'trial_in_use',
  // Another endpoint stores the response the request names, and only it can answer.
  'stored_elsewhere',
] as const;
export type ExclusionReason = (typeof EXCLUSION_REASONS)[number];

export interface Exclusion {
  readonly endpoint: string;
  readonly reason: ExclusionReason;
}

/** A candidate's scores (each in [0, 1]) and their weighted total. */
export interface CandidateScore {
  readonly endpoint: string;
  readonly total: number;
  readonly queue: number;
  readonly kvCache: number;
  readonly prefix: number;
  readonly resident: number;
  /** Scored on Sluice's own counts because the endpoint's load data is stale. */
  readonly staleLoad: boolean;
}

export interface RouteDecision<T> {
  readonly endpoint: T;
  readonly reason: RouteReason;
  /**
   * Present for the scoring strategies: every candidate's scores, in candidate order. Worked out
   * when called, since they are read only for a recording span or a debug log.
   */
  readonly scores?: () => readonly CandidateScore[];
  /** Prompt blocks the chosen endpoint is believed to hold (prefix-aware). */
  readonly prefixBlocks?: number;
  /** Prefix-aware with a prompt: whether the index knew an endpoint holding its first block. */
  readonly prefixHit?: boolean;
  /** Endpoints left out before the pick, with why; filled in by the caller that filtered them. */
  readonly excluded?: readonly Exclusion[];
}

/**
 * The decision with the endpoints left out before the pick. Built field by field: a spread
 * followed by more fields (`{ ...decision, excluded }`) took V8's slow path, a few microseconds
 * on every request.
 */
export function withExclusions<T>(decision: RouteDecision<T>, excluded: readonly Exclusion[]): RouteDecision<T> {
  return { endpoint: decision.endpoint, reason: decision.reason, scores: decision.scores, prefixBlocks: decision.prefixBlocks, prefixHit: decision.prefixHit, excluded };
}
