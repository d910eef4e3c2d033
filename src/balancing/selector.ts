import type { RouteDecision } from './decision.js';

/**
 * What a strategy sees of an endpoint. The caller has already removed unroutable endpoints,
 * endpoints that do not serve the requested model, endpoints at their connection cap and
 * endpoints already tried for this request.
 */
export interface Candidate {
  /** Unique endpoint name, stable across Sluice replicas (sticky hashing depends on it). */
  readonly name: string;
  /** Effective weight, > 0, may be fractional (slow start, degraded). */
  readonly weight: number;
  /** In-flight requests now. */
  readonly activeConnections: number;
  /** Higher = preferred tier. */
  readonly priority: number;
  /** Backup endpoints only receive traffic when no primary candidate exists. */
  readonly backup: boolean;
}

/** The request's prompt as routing sees it (built by the proxy from the request body). */
export interface PromptFacts {
  /** Chained block hashes, first block first: equal prefixes give equal leading hashes. */
  readonly blocks: readonly number[];
  /** Estimated prompt tokens. */
  readonly tokens: number;
}

export interface PickContext {
  /** When set (and sticky options are configured), the same key keeps going to the same endpoint. */
  readonly stickyKey?: string;
  /** The catalog name of the requested model (for the model-resident preference). */
  readonly model?: string;
  readonly prompt?: PromptFacts;
}

export interface Selector {
  readonly name: StrategyName;
  /**
   * Picks one of `candidates`, or undefined when the list is empty, for a caller that sends the
   * request wherever it is told: `decide` then `sent` with the pick.
   */
  select<T extends Candidate>(candidates: readonly T[], ctx?: PickContext): T | undefined;
  /**
   * Picks, and says why (with the scores of scoring strategies). Remembers nothing of the
   * request: the caller may still give the pick up (its half-open trial taken, say).
   */
  decide<T extends Candidate>(candidates: readonly T[], ctx?: PickContext): RouteDecision<T> | undefined;
  /**
   * The request of `ctx` goes to `endpoint` (a pick of `decide` the caller keeps): prefix-aware
   * remembers that it now holds the prompt's blocks. Nothing for the other strategies.
   */
  sent(endpoint: string, ctx?: PickContext): void;
}

/** The balancing strategies, the one list the configuration schema also validates against. */
export const STRATEGY_NAMES = ['round-robin', 'least-connections', 'random-two', 'load-aware', 'prefix-aware'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

export interface StickyOptions {
  /**
   * Bounded-load factor `c`: no endpoint takes more than ceil(c × (in-flight + 1) / n)
   * requests. 1.25 (25% above the average) is the usual choice.
   */
  readonly maxLoadFactor: number;
}

/** Strategy logic once the preferred tier has been chosen; the list is never empty. */
export interface TierPicker {
  pick<T extends Candidate>(candidates: readonly T[]): T;
}
