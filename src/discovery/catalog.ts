import type { Endpoint } from '../endpoints/index.js';
import { Priming } from './priming.js';

export interface CatalogEntry {
  readonly model: string;
  /** Every endpoint that lists the model, routable or not. */
  readonly endpoints: readonly Endpoint[];
}

export interface CatalogOptions {
  /**
   * The catalog this one replaces (config reload, DNS change). An endpoint of the same name that
   * is another backend now (a new URL, so a new Endpoint whose models are not known) keeps the
   * last known list of the one it replaces for `availability()` until its own listing answers.
   * Once the start-up warm-up is over (see warmedUp), this one does not warm up again; but it is
   * primed only once each such endpoint's first listing has settled (at most `primeWithinMs`): a
   * request for a model it was serving waits for its list, as at start, rather than getting 503
   * `model_lists_pending` because a reload changed the port of the backend that serves it.
   */
  readonly previous?: ModelCatalog;
  /** The longest the warm-up lasts (`discovery.timeout`); unset, it waits for every first listing. */
  readonly primeWithinMs?: number;
}

/** The `model` label of a request that names no model, and of one naming a model no endpoint lists. */
export const NO_MODEL_LABEL = 'none';
export const UNKNOWN_MODEL_LABEL = 'unknown';

/**
 * The unified model catalog: which endpoints serve which model, rebuilt whenever an
 * endpoint's model list changes. It also bounds the `model` metric label: only names that some
 * endpoint's last known list names become label values, so clients cannot mint new series.
 *
 * An endpoint's last known list is its last listing that answered: a failed listing keeps it
 * (discovery leaves `Endpoint.models` alone), and so does the endpoint going down. A model named
 * by some endpoint's last known list is known; it is served when one of those endpoints is
 * routable. A model no longer named by any (each endpoint that listed it has since answered
 * without it, or has left the configuration) is forgotten: it is retired, not unavailable.
 *
 * It is primed once its first discovery round has settled: every endpoint's first model
 * listing answered or failed (see Priming). Before that an empty or partial catalog says
 * nothing about what the fleet serves, so requests wait for it.
 */
export class ModelCatalog {
  readonly #endpoints: readonly Endpoint[];
  #index = new Map<string, Endpoint[]>();
  /** Every model some endpoint's last known list names (see #lastKnown), as of the last rebuild. */
  #known: ReadonlySet<string> = new Set();
  /**
   * Per endpoint name, the last known list carried over from the catalog this one replaces, for
   * an endpoint that is a new backend under the same name and has not listed yet; dropped once it has.
   */
  readonly #carried = new Map<string, ReadonlySet<string>>();
  readonly #listeners: Array<() => void> = [];
  readonly #priming: Priming;
  /** The start-up warm-up is over: this catalog, or one it replaced, has been primed. */
  readonly #afterStart: boolean;
  /** Resolves once a reload or DNS change has replaced this catalog (see retire). */
  readonly #retired: Promise<void>;
  #retire: () => void = () => undefined;

  constructor(endpoints: readonly Endpoint[], options: CatalogOptions = {}) {
    const { previous } = options;
    this.#endpoints = endpoints;
    if (previous) {
      const before = new Map(previous.#endpoints.map((ep) => [ep.name, ep]));
      for (const ep of endpoints) {
        const was = before.get(ep.name);
        const last = ep.modelsKnown || !was ? undefined : previous.#lastKnown(was);
        if (last && last.size > 0) this.#carried.set(ep.name, last);
      }
    }
    // At start every endpoint's first listing is awaited; after it, only those of the endpoints
    // that are another backend under a name whose models were known (their models are carried).
    this.#afterStart = previous?.warmedUp ?? false;
    const awaiting = this.#afterStart ? [...this.#carried.keys()] : endpoints.map((ep) => ep.name);
    this.#priming = new Priming(awaiting, options.primeWithinMs, () => this.#changed());
    this.#retired = new Promise((resolve) => (this.#retire = resolve));
  }

  /** Rebuilds the index from the endpoints' current model lists. */
  rebuild(): void {
    const index = new Map<string, Endpoint[]>();
    const known = new Set<string>();
    for (const ep of this.#endpoints) {
      for (const model of ep.models) {
        let list = index.get(model);
        if (!list) index.set(model, (list = []));
        list.push(ep);
      }
      if (ep.modelsKnown) this.#carried.delete(ep.name);
      for (const model of this.#lastKnown(ep) ?? []) known.add(model);
    }
    this.#index = index;
    this.#known = known;
    this.#changed();
  }

  /**
   * The models an endpoint of this catalog was last known to serve: its own last listing that
   * answered, or, before it has one, what was carried over for its name; undefined when neither.
   */
  #lastKnown(ep: Endpoint): ReadonlySet<string> | undefined {
    return ep.modelsKnown ? ep.models : this.#carried.get(ep.name);
  }

  /** Every model some endpoint's last known list names (the metric labels a request may get), as of the last rebuild. */
  get knownModels(): ReadonlySet<string> {
    return this.#known;
  }

  /** Called after every rebuild, and when the catalog becomes primed. */
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Whether the first discovery round has settled (or its wait is over): the request path's one check. */
  get primed(): boolean {
    return this.#priming.primed;
  }

  /**
   * Whether the start-up warm-up is over (readiness stops answering `starting`): primed, or
   * replacing a catalog that was. A reload that points a name at another backend leaves the
   * catalog unprimed until that backend has listed, without making Sluice unready.
   */
  get warmedUp(): boolean {
    return this.#afterStart || this.#priming.primed;
  }

  /** Resolves once primed: at the latest `primeWithinMs` after construction; never rejects. */
  whenPrimed(): Promise<void> {
    return this.#priming.whenPrimed();
  }

  /**
   * Resolves once primed, or once another catalog has replaced this one (a reload or DNS change
   * committed): a request waiting for it then waits for the catalog of the moment. A replaced
   * catalog is no longer told of listings (in a cluster worker, of the primary's), so it would
   * otherwise hold its waiters until its own `primeWithinMs`, long after the fleet had listed.
   */
  whenPrimedOrRetired(): Promise<void> {
    return this.primed ? Promise.resolve() : Promise.race([this.#priming.whenPrimed(), this.#retired]);
  }

  /** Another catalog has replaced this one (its runtime was swapped out). */
  retire(): void {
    this.#retire();
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
    if (requested === undefined) return NO_MODEL_LABEL;
    if (this.#known.has(requested)) return requested;
    const resolved = this.resolve(requested);
    return resolved ?? UNKNOWN_MODEL_LABEL;
  }

  /** Models served by at least one routable endpoint, sorted by name. */
  routableModels(): CatalogEntry[] {
    return this.entries().filter((e) => e.endpoints.some((ep) => ep.routable));
  }

  entries(): CatalogEntry[] {
    return [...this.#index.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([model, endpoints]) => ({ model, endpoints }));
  }

  /**
   * Every known model (some endpoint's last known list names it) with the number of routable
   * endpoints serving it now: 0 while the endpoints that list it are down, unhealthy or cannot be
   * listed. A retired model (no endpoint's last known list names it any longer) is left out.
   */
  availability(): Map<string, number> {
    const out = new Map<string, number>();
    for (const model of this.#known) out.set(model, (this.#index.get(model) ?? []).filter((ep) => ep.routable).length);
    return out;
  }
}
