import type { Endpoint } from '../endpoints/index.js';
import { Priming } from './priming.js';

export interface CatalogEntry {
  readonly model: string;
  /** Every endpoint that lists the model, routable or not. */
  readonly endpoints: readonly Endpoint[];
}

export interface CatalogOptions {
  /**
   * The catalog this one replaces (config reload, DNS change): its model names stay known, and
   * once it has been primed this one is primed from the start (the warm-up is a start-up's).
   */
  readonly previous?: ModelCatalog;
  /** The longest the warm-up lasts (`discovery.timeout`); unset, it waits for every first listing. */
  readonly primeWithinMs?: number;
}

/**
 * The unified model catalog: which endpoints serve which model, rebuilt whenever an
 * endpoint's model list changes. It also bounds the `model` metric label: only names that
 * some endpoint has ever listed become label values, so clients cannot mint new series.
 *
 * It is primed once its first discovery round has settled: every endpoint's first model
 * listing answered or failed (see Priming). Before that an empty or partial catalog says
 * nothing about what the fleet serves, so requests wait for it.
 */
export class ModelCatalog {
  readonly #endpoints: readonly Endpoint[];
  #index = new Map<string, Endpoint[]>();
  readonly #everSeen = new Set<string>();
  readonly #listeners: Array<() => void> = [];
  readonly #priming: Priming;

  constructor(endpoints: readonly Endpoint[], options: CatalogOptions = {}) {
    const { previous } = options;
    this.#endpoints = endpoints;
    if (previous) for (const model of previous.#everSeen) this.#everSeen.add(model);
    // Every endpoint lists its models from its models_path: each one's first listing is awaited.
    const awaiting = previous?.primed ? [] : endpoints.map((ep) => ep.name);
    this.#priming = new Priming(awaiting, options.primeWithinMs, () => this.#changed());
  }

  /** Rebuilds the index from the endpoints' current model lists. */
  rebuild(): void {
    const index = new Map<string, Endpoint[]>();
    for (const ep of this.#endpoints) {
      for (const model of ep.models) {
        let list = index.get(model);
        if (!list) index.set(model, (list = []));
        list.push(ep);
        this.#everSeen.add(model);
      }
    }
    this.#index = index;
    this.#changed();
  }

  /** Called after every rebuild, and when the catalog becomes primed. */
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Whether the first discovery round has settled (or its wait is over): the request path's one check. */
  get primed(): boolean {
    return this.#priming.primed;
  }

  /** Resolves once primed: at the latest `primeWithinMs` after construction; never rejects. */
  whenPrimed(): Promise<void> {
    return this.#priming.whenPrimed();
  }

  /** Discovery reports that an endpoint's model listing has settled, answered or failed. */
  listed(endpoint: Endpoint): void {
    this.#priming.settled(endpoint.name);
  }

  /**
   * A worker's catalog on its primary's models message: rebuilt from the endpoints' new lists,
   * and primed once the primary's is (a worker runs no discovery of its own).
   */
  follow(primed: boolean): void {
    this.rebuild();
    if (primed) this.#priming.prime();
  }

  /** Endpoints whose first listing had not settled when the warm-up ended (or has not yet). */
  get unlisted(): readonly string[] {
    return this.#priming.awaiting;
  }

  /**
   * Endpoints whose models are not known: no model listing of theirs has answered yet (it failed,
   * or is still pending). Any of them may serve a model the catalog does not know, so while one
   * is left an unknown model is not known to be missing. Only the unknown-model path asks.
   */
  notYetListed(): Endpoint[] {
    return this.#endpoints.filter((ep) => !ep.modelsKnown);
  }

  #changed(): void {
    for (const l of this.#listeners) l();
  }

  /**
   * The catalog's name for a requested model, or undefined when no endpoint lists it.
   * Ollama treats `llama3` as `llama3:latest`; so do we.
   */
  resolve(requested: string): string | undefined {
    if (this.#index.has(requested)) return requested;
    if (!requested.includes(':') && this.#index.has(`${requested}:latest`)) return `${requested}:latest`;
    return undefined;
  }

  endpointsFor(model: string): readonly Endpoint[] {
    return this.#index.get(model) ?? [];
  }

  /** A bounded metric label: a catalog name, `none` (no model asked) or `unknown`. */
  metricLabel(requested: string | undefined): string {
    if (requested === undefined) return 'none';
    if (this.#everSeen.has(requested)) return requested;
    const resolved = this.resolve(requested);
    return resolved ?? 'unknown';
  }

  /** Models served by at least one routable endpoint, sorted by name. */
  routableModels(): CatalogEntry[] {
    return this.entries().filter((e) => e.endpoints.some((ep) => ep.routable));
  }

  entries(): CatalogEntry[] {
    return [...this.#index.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([model, endpoints]) => ({ model, endpoints }));
  }

  /** Every model ever seen with the number of routable endpoints serving it now (0 when none). */
  availability(): Map<string, number> {
    const out = new Map<string, number>();
    for (const model of this.#everSeen) out.set(model, (this.#index.get(model) ?? []).filter((ep) => ep.routable).length);
    return out;
  }
}
