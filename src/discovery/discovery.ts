import type { Endpoint } from '../endpoints/index.js';
import type { ModelCatalog } from './catalog.js';
import { listModels, MAX_NAME_CHARS } from './model-lister.js';

export interface DiscoveryOptions {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** `discovery.max_models`: the most names taken from one endpoint's list. */
  readonly maxModels: number;
  readonly log: (level: 'info' | 'warn' | 'debug', message: string, fields: Record<string, unknown>) => void;
}

/**
 * Keeps every endpoint's model list fresh: at start, every `discovery.interval`, and at once
 * when an endpoint becomes routable again (models may have changed while it was down).
 */
export class ModelDiscovery {
  readonly #endpoints: readonly Endpoint[];
  readonly #catalog: ModelCatalog;
  readonly #opts: DiscoveryOptions;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #inFlight = new Map<string, Promise<void>>();
  /** Endpoints whose last model list request failed: retried at their next passing health check. */
  readonly #stale = new Set<string>();
  /** Per endpoint, how many entries of its list were last left out: warned when that changes, not at every listing. */
  readonly #leftOut = new Map<string, number>();

  constructor(endpoints: readonly Endpoint[], catalog: ModelCatalog, opts: DiscoveryOptions) {
    this.#endpoints = endpoints;
    this.#catalog = catalog;
    this.#opts = opts;
  }

  /** Refreshes every `discovery.interval` from now on (the first round is `discoverAll`'s). */
  start(): void {
    // The start-up warm-up's end is logged; a reload's wait for a re-pointed endpoint's list is not.
    if (!this.#catalog.warmedUp) void this.#catalog.whenPrimed().then(() => this.#stopped || this.#logPrimed());
    this.#timer = setInterval(() => void this.discoverAll(), this.#opts.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }

  discoverAll(): Promise<void> {
    return Promise.all(this.#endpoints.map((ep) => this.discover(ep))).then(() => undefined);
  }

  /** Re-discovers an endpoint whose last attempt failed (called when it passes a health check). */
  retryIfStale(endpoint: Endpoint): void {
    if (this.#stale.has(endpoint.name)) void this.discover(endpoint);
  }

  /** Refreshes one endpoint's models; concurrent calls for the same endpoint share one request. */
  discover(endpoint: Endpoint): Promise<void> {
    const running = this.#inFlight.get(endpoint.name);
    if (running) return running;
    const p = this.#discoverOnce(endpoint).finally(() => this.#inFlight.delete(endpoint.name));
    this.#inFlight.set(endpoint.name, p);
    return p;
  }

  async #discoverOnce(endpoint: Endpoint): Promise<void> {
    try {
      const { models, dropped } = await listModels(
        { name: endpoint.name, baseUrl: endpoint.baseUrl, modelsPath: endpoint.config.models_path, authorization: endpoint.authorization },
        this.#opts.timeoutMs,
        this.#opts.maxModels,
      );
      const leftOutBefore = this.#leftOut.get(endpoint.name) ?? 0;
      this.#leftOut.set(endpoint.name, dropped);
      if (dropped > 0 && dropped !== leftOutBefore) {
        this.#opts.log('warn', 'model list entries left out', { endpoint: endpoint.name, dropped, kept: models.length, reason: `names over ${MAX_NAME_CHARS} characters or with control characters, or past discovery.max_models (${this.#opts.maxModels})` });
      }
      this.#stale.delete(endpoint.name);
      const before = [...endpoint.models].sort().join(',');
      endpoint.setModels(models);
      this.#catalog.rebuild();
      if (before !== [...endpoint.models].sort().join(',')) {
        this.#opts.log('info', 'models discovered', { endpoint: endpoint.name, models });
      }
    } catch (err) {
      this.#stale.add(endpoint.name);
      // Keep the last known list: a backend that is down is excluded by its health state, and
      // its models come back with it.
      this.#opts.log('debug', 'model discovery failed', { endpoint: endpoint.name, error: (err as Error).message });
    }
    // Answered or not, the catalog has heard from it: requests need not wait for it any longer.
    this.#catalog.listed(endpoint);
  }

  #logPrimed(): void {
    const unlisted = this.#catalog.unlisted;
    const fields = { models: this.#catalog.entries().length, endpoints: this.#endpoints.length };
    if (unlisted.length === 0) this.#opts.log('info', 'model catalog primed', fields);
    else this.#opts.log('warn', 'model catalog primed', { ...fields, unlisted, reason: `model lists still pending after discovery.timeout (${this.#opts.timeoutMs} ms)` });
  }
}
