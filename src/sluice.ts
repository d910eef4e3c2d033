import { createRequire } from 'node:module';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { Access } from './access/index.js';
import { createSelector, type BuiltSelector } from './balancing/index.js';
import { redactedConfig, type SluiceConfig } from './config/index.js';
import { ModelCatalog, ModelDiscovery } from './discovery/index.js';
import { Endpoint, type EndpointListener } from './endpoints/index.js';
import { HealthChecker, httpProber, type Prober } from './health/index.js';
import { LoadBoard, LoadScraper } from './load/index.js';
import { statusRouter, type StatusSource } from './api/index.js';
import { createAdminApp, createProxyApp, type ProxyRuntime, Forwarder, stickyKeySource, Upstream } from './proxy/index.js';
import { CHARS_PER_TOKEN } from './proxy/prompt-blocks.js';
import { DnsWatcher, expandEndpoints, planFleet, systemResolver, type Answers, type Resolver } from './fleet/index.js';
import { InFlight } from './server/index.js';
import type { ClusterSide } from './cluster/index.js';
import { createLogger, type Logger, SluiceMetrics, ModelStats } from './telemetry/index.js';

export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

export interface SluiceOptions {
  readonly logger?: Logger;
  readonly prober?: Prober;
  /** Resolves the hosts of `discover: dns` endpoints (default: the system resolver). */
  readonly resolver?: Resolver;
  /**
   * In a cluster (`server.workers` > 1), this process's side of it. A primary runs checks,
   * discovery, load scrapes and DNS and does not listen; a worker listens and follows the
   * primary's state. Alone (unset), one process does everything.
   */
  readonly cluster?: ClusterSide;
}

export interface RunningSluice {
  /** Base URL of the proxy, e.g. http://127.0.0.1:8080 (empty in a cluster primary, which does not listen). */
  readonly url: string;
  /** Base URL of /metrics and /internal/* (same as url unless server.admin_port is set). */
  readonly adminUrl: string;
  readonly endpoints: readonly Endpoint[];
  /**
   * Applies a new configuration without dropping requests: endpoints are kept by name and
   * reconfigured in place (health, breaker, models and connections stay); only an endpoint
   * whose URL changed is replaced, and a replaced or removed one drains. `server.*` changes
   * need a restart. Counted in sluice_config_reloads_total; a load that throws changes nothing.
   */
  reload(load: () => SluiceConfig): boolean;
  /**
   * Graceful shutdown: readiness fails and the listener closes at once, in-flight requests and
   * streams may finish for `server.shutdown_grace` (or `graceMs`), then what is left is cut,
   * logged and counted. Called again with 0 during the drain, it cuts at once.
   */
  close(graceMs?: number): Promise<void>;
}

/** Everything built from one configuration and one set of endpoints; swapped whole on a change. */
interface Runtime extends ProxyRuntime {
  readonly config: SluiceConfig;
  readonly endpoints: readonly Endpoint[];
  readonly discovery: ModelDiscovery;
  readonly checker: HealthChecker;
  readonly scraper: LoadScraper;
  readonly selector: BuiltSelector;
}

/** How often draining endpoints are looked at. */
const DRAIN_SWEEP_MS = 250;

/** Composition root: builds every part from the config, starts checks and discovery, and listens. */
export async function startSluice(initial: SluiceConfig, options: SluiceOptions = {}): Promise<RunningSluice> {
  const logger = options.logger ?? createLogger(initial.logging.level);
  const { cluster } = options;
  const primary = cluster?.role === 'primary' ? cluster : undefined;
  const worker = cluster?.role === 'worker' ? cluster : undefined;
  const startedAt = Date.now();
  const modelStats = new ModelStats();
  const upstreams = new Map<Endpoint, Upstream>();
  // One board for the process: a reload keeps the load of endpoints it keeps.
  const loadBoard = new LoadBoard({ staleAfterMs: initial.load.stale_after });
  /** Endpoints that left the fleet and still have requests or streams in flight. */
  const draining = new Set<Endpoint>();
  let drainTimer: NodeJS.Timeout | undefined;
  let shuttingDown = false;
  let runtime: Runtime | undefined;
  /** Access control and rate limits (none in a cluster primary, which serves no requests). */
  let access: Access | undefined;

  const listener: EndpointListener = {
    stateChanged(ep, from, to, reason) {
      // A worker's state follows the primary's, which counts and logs the transition once.
      if (worker) return;
      primary?.healthChanged(ep);
      metrics.stateTransition(ep.name, from, to);
      logger.warn('endpoint state changed', { endpoint: ep.name, from, to, reason });
      // Models may have changed while it was down: re-discover as soon as it can take traffic.
      if ((from === 'unhealthy' || from === 'unknown') && ep.health.routable && runtime?.endpoints.includes(ep)) void runtime.discovery.discover(ep);
    },
    circuitChanged(ep, from, to, reason) {
      logger.warn('circuit breaker changed', { endpoint: ep.name, from, to, reason });
    },
    ...(worker ? { passive: worker.passive } : {}),
  };

  const current = (): Runtime => runtime!;
  /** Live endpoints, and draining ones whose name no live endpoint has taken over. */
  const reported = (): Endpoint[] => {
    const live = current().endpoints;
    const names = new Set(live.map((ep) => ep.name));
    return [...live, ...[...draining].filter((ep) => !names.has(ep.name))];
  };

  const metrics = new SluiceMetrics(
    {
      endpoints: () =>
        reported().map((ep) => ({
          name: ep.name,
          url: ep.displayUrl,
          type: ep.config.type,
          priority: ep.config.priority,
          state: ep.state,
          routable: ep.routable,
          ...(primary ? {} : { circuit: ep.breaker.state }),
          consecutiveFailures: ep.health.consecutiveFailures,
          activeConnections: ep.activeConnections,
          effectiveWeight: ep.effectiveWeight,
        })),
      modelAvailability: () => current().catalog.availability(),
      endpointLoads: () =>
        current().endpoints
          .filter((ep) => ep.config.load_source !== 'none')
          .map((ep) => {
            const report = loadBoard.get(ep.name)?.report;
            const age = loadBoard.ageMs(ep.name);
            return {
              name: ep.name,
              stale: loadBoard.freshness(ep.name) === 'stale',
              running: report?.running,
              waiting: report?.waiting,
              kvUsage: report?.kvUsage,
              ageSeconds: age === undefined ? undefined : age / 1000,
            };
          }),
      prefixIndexSize: () => current().selector.prefixIndex?.size ?? 0,
    },
    {
      version: VERSION,
      ...(cluster ? { processLabel: worker ? String(worker.slot) : 'primary' } : {}),
      ...(worker ? { render: (openMetrics: boolean) => worker.renderMetrics(openMetrics) } : {}),
    },
  );

  const dns = new DnsWatcher({
    resolver: options.resolver ?? systemResolver,
    now: Date.now,
    onChange: () => {
      if (!runtime || shuttingDown) return;
      apply(runtime.config);
      primary?.fleetChanged(runtime.config, dns.answers, false);
      logger.info('endpoints updated from DNS', { endpoints: runtime.endpoints.map((ep) => ep.name) });
    },
    log: (level, message, fields) => logger.log(level, message, fields),
  });

  /** DNS members the fleet is built from: this process's own lookups, or in a worker the primary's. */
  let fromPrimary: Answers = worker?.answers ?? new Map();
  const answers = (): Answers => (worker ? fromPrimary : dns.answers);
  const timeoutsOf = (config: SluiceConfig) => ({ connectMs: config.proxy.connect_timeout, firstByteMs: config.proxy.first_byte_timeout });

  /** The endpoints for `config`: kept by name and reconfigured in place, created, or retired to drain. */
  function reconcile(config: SluiceConfig): Endpoint[] {
    const running = runtime?.endpoints ?? [];
    const plan = planFleet(running, expandEndpoints(config.endpoints, answers()));
    const next = new Map<string, Endpoint>();
    for (const { endpoint, config: c } of plan.keep) {
      endpoint.reconfigure(c, config);
      upstreams.get(endpoint)?.setTimeouts(timeoutsOf(config));
      next.set(c.name, endpoint);
    }
    for (const c of plan.create) {
      const ep = new Endpoint(c, config, Date.now, listener);
      upstreams.set(ep, new Upstream(ep.baseUrl, timeoutsOf(config), () => ep.authorization));
      metrics.initEndpoint(ep.name);
      next.set(c.name, ep);
    }
    for (const ep of plan.retire) retire(ep);
    // In the configured order, so that status and logs read like the file.
    return expandEndpoints(config.endpoints, answers()).map((c) => next.get(c.name)!);
  }

  /** Takes an endpoint out of rotation; its own requests and streams finish, then it is forgotten. */
  function retire(ep: Endpoint): void {
    upstreams.get(ep)?.retire();
    draining.add(ep);
    logger.info('endpoint draining', { endpoint: ep.name, url: ep.displayUrl, active_connections: ep.activeConnections });
    drainTimer ??= setInterval(sweepDrained, DRAIN_SWEEP_MS).unref();
    sweepDrained();
  }

  function sweepDrained(): void {
    for (const ep of draining) {
      const upstream = upstreams.get(ep);
      if (ep.activeConnections > 0 || (upstream?.inFlight ?? 0) > 0) continue;
      upstream?.close();
      upstreams.delete(ep);
      draining.delete(ep);
      logger.info('endpoint drained', { endpoint: ep.name });
      // The same name may live on (its URL changed): its series continue.
      if (!runtime?.endpoints.some((live) => live.name === ep.name)) void metrics.removeEndpoint(ep.name);
    }
    if (draining.size === 0 && drainTimer) {
      clearInterval(drainTimer);
      drainTimer = undefined;
    }
  }

  /** Builds a runtime for the configuration over the current endpoints. */
  function build(config: SluiceConfig): Runtime {
    const endpoints = reconcile(config);
    const catalog = new ModelCatalog(endpoints, { previous: runtime?.catalog, primeWithinMs: config.discovery.timeout });
    catalog.rebuild();
    const discovery = new ModelDiscovery(endpoints, catalog, {
      intervalMs: config.discovery.interval,
      timeoutMs: config.discovery.timeout,
      log: (level, message, fields) => logger.log(level, message, fields),
    });
    const checker = new HealthChecker(endpoints, {
      prober: options.prober ?? httpProber,
      ...(primary ? { onChecked: (ep: Endpoint) => primary.healthChanged(ep) } : {}),
      onResult(ep, result) {
        metrics.healthCheck(ep.name, result.ok ? 'success' : result.timedOut ? 'timeout' : 'failure', result.latencyMs / 1000);
        if (result.ok) discovery.retryIfStale(ep);
        else logger.debug('health check failed', { endpoint: ep.name, error: result.error, latency_ms: Math.round(result.latencyMs) });
      },
    });
    loadBoard.staleAfterMs = config.load.stale_after;
    loadBoard.track(endpoints.map((ep) => ({ name: ep.name, source: ep.config.load_source })));
    for (const ep of endpoints) if (ep.config.load_source !== 'none') metrics.initLoadSource(ep.name);
    const scraper = new LoadScraper(
      endpoints.map((ep) => ({ name: ep.name, baseUrl: ep.baseUrl, source: ep.config.load_source, authorization: ep.authorization })),
      {
        board: loadBoard,
        intervalMs: config.load.interval,
        timeoutMs: config.load.timeout,
        onResult(target, result, error) {
          primary?.loadChanged(target.name, result === 'success' ? undefined : (error ?? result));
          metrics.loadScrape(target.name, result);
          if (error) logger.debug('load scrape failed', { endpoint: target.name, error });
        },
      },
    );
    const { balancing } = config;
    const sticky = balancing.sticky;
    const selector = createSelector(balancing.strategy, {
      ...(sticky ? { sticky: { maxLoadFactor: sticky.max_load_factor } } : {}),
      weights: { queue: balancing.scorers.queue, kvCache: balancing.scorers.kv_cache, prefix: balancing.scorers.prefix, resident: balancing.scorers.resident },
      load: (name, model) => loadBoard.facts(name, model),
      prefix: {
        indexSize: balancing.prefix.index_size,
        ttlMs: balancing.prefix.ttl,
        maxImbalanceRatio: balancing.prefix.max_imbalance_ratio,
        maxImbalanceRequests: balancing.prefix.max_imbalance_requests,
        fitFraction: balancing.prefix.fit_fraction,
        blockTokens: balancing.prefix.block_chars / CHARS_PER_TOKEN,
      },
      previousIndex: runtime?.selector.prefixIndex,
    });
    const forwarder = new Forwarder({
      config,
      endpoints,
      catalog,
      selector,
      load: loadBoard,
      sticky: sticky ? stickyKeySource(sticky.key, sticky.trusted_proxies) : undefined,
      metrics,
      modelStats,
      logger,
      retryAfterSeconds: (among = endpoints) => Math.max(1, Math.ceil(Math.min(...among.map((ep) => nextCheckInMs(checker, ep))) / 1000)),
      upstreamFor: (ep) => {
        const upstream = upstreams.get(ep);
        if (!upstream) throw new Error(`endpoint ${ep.name} has left the fleet`);
        return upstream;
      },
    });
    if (primary) catalog.onChange(() => primary.modelsChanged(endpoints, catalog.primed));
    return { config, endpoints, catalog, discovery, checker, scraper, selector, forwarder, maxBodyBytes: config.limits.max_body };
  }

  /** When the endpoint's next active check runs: this process's checker's, or in a worker the primary's. */
  function nextCheckInMs(checker: HealthChecker, ep: Endpoint): number {
    return worker ? worker.nextCheckInMs(ep) : checker.nextCheckInMs(ep);
  }

  /** Replaces the runtime: endpoints that stay keep their state, checks, scrapes and discovery restart over the new set. */
  function apply(config: SluiceConfig): void {
    const previous = runtime;
    dns.setTargets(config.endpoints);
    const next = build(config);
    if (previous) {
      previous.checker.stop();
      previous.scraper.stop();
      previous.discovery.stop();
    }
    runtime = next;
    // A worker's checks, scrapes and discovery are the primary's.
    if (worker) return;
    next.checker.start();
    next.scraper.start();
    // Endpoints that kept their models are re-discovered too; recovery re-discovers anyway.
    void next.discovery.discoverAll();
    next.discovery.start();
  }

  /** Applies a reloaded configuration (see RunningSluice.reload); in a worker it comes from the primary. */
  function reload(next: SluiceConfig): void {
    if (!isDeepStrictEqual(next.server, current().config.server) && !worker) logger.warn('server.* changes take effect only after a restart', { server: next.server });
    apply(next);
    access?.update(next);
    // New `discover: dns` endpoints get their members without waiting for the next round.
    if (!worker) void dns.refreshDue();
    logger.level = next.logging.level;
    // The primary counts a cluster's reloads, once.
    if (!worker) metrics.configReload('success');
    primary?.fleetChanged(next, dns.answers, true);
    logger.info('configuration reloaded', { endpoints: current().endpoints.map((ep) => ep.name), strategy: next.balancing.strategy });
  }

  if (!worker) {
    dns.setTargets(initial.endpoints);
    await dns.refreshAll();
  }
  apply(initial);
  if (!worker) dns.start();
  // The state the primary sent with the configuration applies now, before the first request.
  if (worker) {
    worker.attach({
      endpoint: (name) => runtime?.endpoints.find((ep) => ep.name === name),
      board: loadBoard,
      modelsChanged: (primed) => runtime?.catalog.follow(primed),
      reload: (config, members) => {
        fromPrimary = members;
        reload(config);
      },
      membersChanged: (members) => {
        fromPrimary = members;
        if (!runtime || shuttingDown) return;
        apply(runtime.config);
        logger.info('endpoints updated from DNS', { endpoints: runtime.endpoints.map((ep) => ep.name) });
      },
      metricsJson: () => metrics.json(),
    });
  }

  /** Reads and applies a configuration (see RunningSluice.reload). */
  function reloadFrom(load: () => SluiceConfig): boolean {
    let next: SluiceConfig;
    try {
      next = load();
    } catch (err) {
      metrics.configReload('failure');
      logger.error('configuration reload failed; keeping the running configuration', { error: err instanceof Error ? err.message : String(err) });
      return false;
    }
    reload(next);
    return true;
  }

  /** Stops checks, scrapes, discovery and DNS, and closes the connections to the endpoints. */
  function stopControl(): void {
    dns.stop();
    const rt = current();
    rt.checker.stop();
    rt.discovery.stop();
    rt.scraper.stop();
    if (drainTimer) clearInterval(drainTimer);
    for (const u of upstreams.values()) u.close();
  }

  if (primary) {
    primary.attach({
      get config() {
        return current().config;
      },
      get answers() {
        return dns.answers;
      },
      get endpoints() {
        return current().endpoints;
      },
      get primed() {
        return current().catalog.primed;
      },
      board: loadBoard,
      nextCheckInMs: (ep) => current().checker.nextCheckInMs(ep),
      metricsJson: () => metrics.json(),
    });
    logger.info('sluice primary running checks', { endpoints: current().endpoints.map((ep) => ({ name: ep.name, url: ep.displayUrl })), version: VERSION });
    let stopped = false;
    return {
      url: '',
      adminUrl: '',
      get endpoints() {
        return current().endpoints;
      },
      reload: reloadFrom,
      close() {
        shuttingDown = true;
        if (!stopped) stopControl();
        stopped = true;
        return Promise.resolve();
      },
    };
  }

  const status: StatusSource = {
    version: VERSION,
    startedAt,
    get endpoints() {
      return current().endpoints;
    },
    get catalog() {
      return current().catalog;
    },
    get shuttingDown() {
      return shuttingDown;
    },
    modelStats,
    metrics,
    nextCheckInMs: (ep) => nextCheckInMs(current().checker, ep),
    redactedConfig: () => redactedConfig(current().config),
  };
  const separateAdmin = initial.server.admin_port !== null && initial.server.admin_port !== undefined;
  access = new Access(initial, { metrics, logger });
  const adminRouter = access.guardAdmin(statusRouter(status));
  const app = createProxyApp({ current, logger, adminRouter: separateAdmin ? undefined : adminRouter, gate: access.gate });

  const inFlight = new InFlight();
  const server = http.createServer(serverOptions(initial), inFlight.track((req, res) => {
    // During shutdown a keep-alive client is told to reconnect elsewhere.
    if (shuttingDown) res.shouldKeepAlive = false;
    // With route headers on, a cluster worker says which one it is.
    if (worker && current().config.proxy.expose_route_headers) res.setHeader('x-sluice-worker', String(worker.slot));
    app(req, res);
  }));
  server.maxConnections = initial.server.max_connections;
  const url = await listen(server, initial.server.host, initial.server.port);
  let adminServer: http.Server | undefined;
  let adminUrl = url;
  if (separateAdmin) {
    adminServer = http.createServer(serverOptions(initial), createAdminApp(adminRouter, logger));
    adminUrl = await listen(adminServer, initial.server.host, initial.server.admin_port!);
  }
  worker?.serving();

  logger.info('sluice listening', { url, admin_url: adminUrl, endpoints: current().endpoints.map((ep) => ({ name: ep.name, url: ep.displayUrl })), strategy: initial.balancing.strategy, version: VERSION });

  let closing: Promise<void> | undefined;
  const guard = access;
  return {
    url,
    adminUrl,
    get endpoints() {
      return current().endpoints;
    },
    reload: reloadFrom,
    close(graceMs) {
      // Asked again with no grace while draining: cut now.
      if (closing && graceMs === 0) inFlight.endGrace();
      closing ??= (async () => {
        shuttingDown = true;
        dns.stop();
        const grace = graceMs ?? current().config.server.shutdown_grace;
        logger.info('shutting down', { in_flight: inFlight.size, grace_ms: grace });
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        const cut = await inFlight.drain(server, grace);
        if (cut.length > 0) {
          metrics.shutdownCut(cut.length);
          for (const r of cut) logger.warn('request cut at shutdown', r);
          logger.warn('shutdown grace period over; requests cut', { cut: cut.length, grace_ms: grace });
        }
        server.closeAllConnections();
        await closed;
        if (adminServer) await closeServer(adminServer);
        stopControl();
        guard.close();
        logger.info('shut down', { cut: cut.length });
      })();
      return closing;
    },
  };
}

/** Client-side limits (slowloris, connection floods) from `server.*`. */
function serverOptions(config: SluiceConfig): http.ServerOptions {
  const { headers_timeout: headersTimeout, request_timeout: requestTimeout } = config.server;
  return {
    keepAliveTimeout: 65_000,
    headersTimeout,
    requestTimeout,
    // How often Node looks for connections past those timeouts (its default is 30 s).
    connectionsCheckingInterval: Math.min(5000, Math.max(100, Math.floor(headersTimeout / 4))),
  };
}

function listen(server: http.Server, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address() as AddressInfo;
      const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address;
      resolve(`http://${shownHost}:${addr.port}`);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
