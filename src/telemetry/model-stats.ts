import { CLIENT_CLOSED } from './failure-reasons.js';

const SAMPLES = 1024;

/**
 * How a request ended for the model's stats. A client that left, or one whose request was
 * refused as its own fault (a 4xx: a malformed body, an unknown model, its key over its rate
 * limit), is neither a success nor the model's failure; a 429 from a backend is a failure: the
 * fleet had no room for the request.
 */
export type ModelOutcome = 'success' | 'failure' | 'client_error' | 'client_closed';

/** The outcome of a request answered with `code`, by an endpoint (`fromEndpoint`) or by Sluice itself. */
export function modelOutcome(code: number, fromEndpoint: boolean): ModelOutcome {
  if (code === CLIENT_CLOSED) return 'client_closed';
  if (code >= 500 || (code === 429 && fromEndpoint)) return 'failure';
  return code >= 400 ? 'client_error' : 'success';
}

interface ModelCounters {
  requests: number;
  successes: number;
  failures: number;
  clientErrors: number;
  clientClosed: number;
  /** Ring buffer of the latest request durations in ms. */
  samples: Float64Array;
  next: number;
  filled: number;
}

export interface ModelStatsView {
  readonly requests: number;
  readonly successes: number;
  readonly failures: number;
  readonly client_errors: number;
  readonly client_closed: number;
  readonly latency_ms: { readonly p50: number | null; readonly p95: number | null; readonly p99: number | null };
}

/**
 * Per-model request counts and latency percentiles for `/internal/stats/models`, over the
 * latest 1,024 requests per model. Keys are bounded metric labels (catalog names), never raw input.
 */
export class ModelStats {
  readonly #byModel = new Map<string, ModelCounters>();

  /** Counts a finished request; its duration joins the latency samples unless the client left before the end or was refused. */
  record(model: string, outcome: ModelOutcome, durationMs: number): void {
    let c = this.#byModel.get(model);
    if (!c) this.#byModel.set(model, (c = { requests: 0, successes: 0, failures: 0, clientErrors: 0, clientClosed: 0, samples: new Float64Array(SAMPLES), next: 0, filled: 0 }));
    c.requests++;
    if (outcome === 'client_closed') {
      c.clientClosed++;
      return;
    }
    if (outcome === 'client_error') {
      c.clientErrors++;
      return;
    }
    if (outcome === 'success') c.successes++;
    else c.failures++;
    c.samples[c.next] = durationMs;
    c.next = (c.next + 1) % SAMPLES;
    c.filled = Math.min(SAMPLES, c.filled + 1);
  }

  view(model: string): ModelStatsView {
    const c = this.#byModel.get(model);
    if (!c) return { requests: 0, successes: 0, failures: 0, client_errors: 0, client_closed: 0, latency_ms: { p50: null, p95: null, p99: null } };
    const sorted = Array.from(c.samples.subarray(0, c.filled)).sort((a, b) => a - b);
    return { requests: c.requests, successes: c.successes, failures: c.failures, client_errors: c.clientErrors, client_closed: c.clientClosed, latency_ms: { p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), p99: quantile(sorted, 0.99) } };
  }

  /** Drops a retired model's counts: `/internal/stats/models` lists what the fleet serves. */
  forget(model: string): void {
    this.#byModel.delete(model);
  }

  models(): string[] {
    return [...this.#byModel.keys()];
  }
}

/** Nearest-rank quantile of sorted values. */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return Math.round(sorted[rank]! * 100) / 100;
}
