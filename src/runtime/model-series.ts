import { NO_MODEL_LABEL, UNKNOWN_MODEL_LABEL, type ModelCatalog } from '../discovery/index.js';
import type { ModelStats, SluiceMetrics } from '../telemetry/index.js';

/**
 * Keeps the per-model series and stats to the models the fleet serves: a model the catalog has
 * retired (no endpoint's last known list names it any longer) loses its metric series and its
 * `/internal/stats/models` entry, so that backends that load and drop adapters, or pull and
 * remove models, over weeks do not pile up series. One per process, across reloads.
 */
export class ModelSeries {
  readonly #metrics: SluiceMetrics;
  readonly #modelStats: ModelStats;
  /** The models known at the last look: those that may have series. */
  #known: ReadonlySet<string> = new Set();

  constructor(metrics: SluiceMetrics, modelStats: ModelStats) {
    this.#metrics = metrics;
    this.#modelStats = modelStats;
  }

  /** The catalog followed: the committed runtime's (one a reload replaced says nothing any more). */
  #catalog: ModelCatalog | undefined;

  /** Follows a committed runtime's catalog: now, and on each of its changes. */
  follow(catalog: ModelCatalog): void {
    this.#catalog = catalog;
    catalog.onChange(() => {
      if (this.#catalog === catalog) this.#retire(catalog.knownModels);
    });
    this.#retire(catalog.knownModels);
  }

  /**
   * The label a request's observations go under now: the one it started with, unless its model
   * was retired while the request was in flight. Then `unknown`, as for a model no endpoint
   * serves: under its own name, they would bring back the series just removed, and nothing would
   * remove them again.
   */
  readonly currentLabel = (label: string): string => (this.#known.has(label) || label === NO_MODEL_LABEL || label === UNKNOWN_MODEL_LABEL ? label : UNKNOWN_MODEL_LABEL);

  #retire(known: ReadonlySet<string>): void {
    for (const model of this.#known) {
      // A backend's model named like a sentinel label shares its series: those stay.
      if (known.has(model) || model === NO_MODEL_LABEL || model === UNKNOWN_MODEL_LABEL) continue;
      void this.#metrics.removeModel(model);
      this.#modelStats.forget(model);
    }
    this.#known = known;
  }
}
