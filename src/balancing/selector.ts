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

export interface PickContext {
  /** When set (and sticky options are configured), the same key keeps going to the same endpoint. */
  readonly stickyKey?: string;
}

export interface Selector {
  readonly name: string;
  /** Picks one of `candidates`, or undefined when the list is empty. */
  select<T extends Candidate>(candidates: readonly T[], ctx?: PickContext): T | undefined;
}

export type StrategyName = 'round-robin' | 'least-connections' | 'random-two';

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
