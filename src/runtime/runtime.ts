import type { ResponseDirectory } from '../affinity/index.js';
import { createSelector, type BuiltSelector, type PrefixIndex } from '../balancing/index.js';
import type { PrimarySide } from '../cluster/index.js';
import type { SluiceConfig } from '../config/index.js';
import { ModelCatalog, ModelDiscovery } from '../discovery/index.js';
import type { Endpoint } from '../endpoints/index.js';
import { HealthChecker, type Prober } from '../health/index.js';
import { LoadScraper, type LoadBoard, type LoadTarget } from '../load/index.js';
import { CHARS_PER_TOKEN, Forwarder, stickyKeySource, type ProxyRuntime, type Upstream } from '../proxy/index.js';
import type { Logger, ModelStats, SluiceMetrics } from '../telemetry/index.js';
import { monotonicNow } from './clock.js';

/** Everything built from one configuration and one set of endpoints; swapped whole on a change. */
export interface Runtime extends ProxyRuntime {
  readonly config: SluiceConfig;
  readonly endpoints: readonly Endpoint[];
  readonly discovery: ModelDiscovery;
  readonly checker: HealthChecker;
  readonly scraper: LoadScraper;
  readonly selector: BuiltSelector;
}

/** What lives longer than one runtime: the process's board, metrics and logs, and the endpoints' upstreams. */
export interface RuntimeDeps {
  readonly logger: Logger;
  readonly metrics: SluiceMetrics;
  readonly modelStats: ModelStats;
  /** The model label a request's observations go under now (see ModelSeries.currentLabel). */
  readonly currentLabel: (label: string) => string;
  readonly board: LoadBoard;
  /** The process's stored responses' owners (a reload keeps them); followed when `balancing.stored_responses.max_ids` is above 0. */
  readonly storedResponses: ResponseDirectory;
  readonly prober: Prober;
  readonly upstreamFor: (ep: Endpoint) => Upstream;
  /** When the endpoint's next active check runs: the checker's, or in a cluster worker the primary's. */
  readonly nextCheckInMs: (checker: HealthChecker, ep: Endpoint) => number;
  /** In a cluster primary, where checks and catalog changes are reported. */
  readonly primary?: PrimarySide;
}

/**
 * Builds a runtime for the configuration over `endpoints`, nothing started and nothing that
 * runs changed (a reload builds it before it commits: a throw refuses the reload). The previous
 * runtime, if any, hands over its model lists and prefix index.
 */
export function buildRuntime(config: SluiceConfig, endpoints: readonly Endpoint[], previous: Runtime | undefined, deps: RuntimeDeps): Runtime {
  const { logger, metrics, board, primary } = deps;
  const catalog = new ModelCatalog(endpoints, { previous: previous?.catalog, primeWithinMs: config.discovery.timeout });
  catalog.rebuild();
  const discovery = new ModelDiscovery(endpoints, catalog, {
    intervalMs: config.discovery.interval,
    timeoutMs: config.discovery.timeout,
    maxModels: config.discovery.max_models,
    log: (level, message, fields) => logger.log(level, message, fields),
  });
  const checker = new HealthChecker(endpoints, {
    now: monotonicNow,
    prober: deps.prober,
    ...(primary ? { onChecked: (ep: Endpoint) => primary.healthChanged(ep) } : {}),
    onResult(ep, result) {
      metrics.healthCheck(ep.name, result.ok ? 'success' : result.timedOut ? 'timeout' : 'failure', result.latencyMs / 1000);
      if (result.ok) discovery.retryIfStale(ep);
      else logger.debug('health check failed', { endpoint: ep.name, error: result.error, latency_ms: Math.round(result.latencyMs) });
    },
  });
  const scraper = loadScraper(config, endpoints, deps);
  const selector = selectorFor(config, board, previous?.selector.prefixIndex);
  const sticky = config.balancing.sticky;
  const forwarder = new Forwarder({
    config,
    endpoints,
    catalog,
    selector,
    load: board,
    ...(config.balancing.stored_responses.max_ids > 0 ? { storedResponses: deps.storedResponses } : {}),
    sticky: sticky ? stickyKeySource(sticky.key, sticky.trusted_proxies) : undefined,
    metrics,
    modelStats: deps.modelStats,
    currentLabel: deps.currentLabel,
    logger,
    retryAfterSeconds: (among = endpoints) => Math.max(1, Math.ceil(Math.min(...untilKnown(config, among, (ep) => deps.nextCheckInMs(checker, ep))) / 1000)),
    upstreamFor: deps.upstreamFor,
  });
  if (primary) catalog.onChange(() => primary.modelsChanged(endpoints, catalog.primed));
  return { config, endpoints, catalog, discovery, checker, scraper, selector, forwarder, maxBodyBytes: config.limits.max_body, maxBodyTotalBytes: config.limits.max_body_total };
}

/**
 * Milliseconds until each of `among` is checked again; with no endpoint at all (a DNS name that
 * resolves to nothing yet), until the names are looked up again.
 */
function untilKnown(config: SluiceConfig, among: readonly Endpoint[], nextCheckInMs: (ep: Endpoint) => number): number[] {
  if (among.length > 0) return among.map(nextCheckInMs);
  const lookups = config.endpoints.filter((ep) => ep.discover === 'dns').map((ep) => ep.discover_interval);
  return lookups.length > 0 ? lookups : [1000];
}

/**
 * Points the board at the runtime's endpoints, their load sources and backends, once it is
 * committed (a kept endpoint has its reloaded configuration by then). A name that points at
 * another backend starts afresh on the board.
 */
export function trackLoad(runtime: Runtime, deps: Pick<RuntimeDeps, 'board' | 'metrics'>): void {
  const { board, metrics } = deps;
  board.staleAfterMs = runtime.config.load.stale_after;
  board.track(runtime.endpoints.map((ep) => ({ name: ep.name, source: ep.config.load_source, backend: ep.baseUrl.href })));
  for (const ep of runtime.endpoints) if (ep.config.load_source !== 'none') metrics.initLoadSource(ep.name);
}

/** The endpoints' load scraper; it reads their sources and credentials when it scrapes (after the commit). */
function loadScraper(config: SluiceConfig, endpoints: readonly Endpoint[], deps: RuntimeDeps): LoadScraper {
  const { logger, metrics, board, primary } = deps;
  return new LoadScraper(endpoints.map(loadTarget), {
    board,
    intervalMs: config.load.interval,
    timeoutMs: config.load.timeout,
    onResult(target, result, error) {
      primary?.loadChanged(target.name, result === 'success' ? undefined : (error ?? result));
      metrics.loadScrape(target.name, result);
      if (error) logger.debug('load scrape failed', { endpoint: target.name, error });
    },
  });
}

/** The endpoint as the scraper sees it, its source and credentials as they are when read (a reload sets them in place). */
function loadTarget(ep: Endpoint): LoadTarget {
  return {
    name: ep.name,
    baseUrl: ep.baseUrl,
    get source() {
      return ep.config.load_source;
    },
    get authorization() {
      return ep.authorization;
    },
  };
}

/** The `balancing.*` strategy, reading load from the board and keeping the previous prefix index. */
function selectorFor(config: SluiceConfig, board: LoadBoard, previousIndex: PrefixIndex | undefined): BuiltSelector {
  const { balancing } = config;
  const sticky = balancing.sticky;
  return createSelector(balancing.strategy, {
    ...(sticky ? { sticky: { maxLoadFactor: sticky.max_load_factor } } : {}),
    weights: { queue: balancing.scorers.queue, kvCache: balancing.scorers.kv_cache, prefix: balancing.scorers.prefix, resident: balancing.scorers.resident },
    load: (name, model) => board.facts(name, model),
    prefix: {
      indexSize: balancing.prefix.index_size,
      ttlMs: balancing.prefix.ttl,
      maxImbalanceRatio: balancing.prefix.max_imbalance_ratio,
      maxImbalanceRequests: balancing.prefix.max_imbalance_requests,
      fitFraction: balancing.prefix.fit_fraction,
      blockTokens: balancing.prefix.block_chars / CHARS_PER_TOKEN,
    },
    previousIndex,
  });
}
