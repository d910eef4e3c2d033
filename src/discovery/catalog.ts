import type { Endpoint } from '../endpoints/index.js';

export interface CatalogEntry {
  readonly model: string;
  /** Every endpoint that lists the model, routable or not. */
  readonly endpoints: readonly Endpoint[];
}

/**
 * The unified model catalog: which endpoints serve which model, rebuilt whenever an
 * endpoint's model list changes. It also bounds the `model` metric label: only names that
 * some endpoint has ever listed become label values, so clients cannot mint new series.
 */
export class ModelCatalog {
  readonly #endpoints: readonly Endpoint[];
  #index = new Map<string, Endpoint[]>();
  readonly #everSeen = new Set<string>();
  readonly #listeners: Array<() => void> = [];

  /** `previous`: the catalog this one replaces (config reload), whose model names stay known. */
  constructor(endpoints: readonly Endpoint[], previous?: ModelCatalog) {
    this.#endpoints = endpoints;
    if (previous) for (const model of previous.#everSeen) this.#everSeen.add(model);
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
    for (const l of this.#listeners) l();
  }

  onChange(listener: () => void): void {
    this.#listeners.push(listener);
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
