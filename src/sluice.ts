import { createRequire } from 'node:module';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { Access } from './access/index.js';
import { createSelector } from './balancing/index.js';
import { redactedConfig, type SluiceConfig } from './config/index.js';
import { ModelCatalog, ModelDiscovery } from './discovery/index.js';
import { Endpoint, type EndpointListener } from './endpoints/index.js';
import { HealthChecker, httpProber, type Prober } from './health/index.js';
import { statusRouter, type StatusSource } from './api/index.js';
import { createAdminApp, createProxyApp, type ProxyRuntime, Forwarder, stickyKeySource, Upstream } from './proxy/index.js';
import { createLogger, type Logger, SluiceMetrics, ModelStats } from './telemetry/index.js';

export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

export interface SluiceOptions {
  readonly logger?: Logger;
  readonly prober?: Prober;
}

export interface RunningSluice {
  /** Base URL of the proxy, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  /** Base URL of /metrics and /internal/* (same as url unless server.admin_port is set). */
  readonly adminUrl: string;
  readonly endpoints: readonly Endpoint[];
  /**
   * Applies a new configuration without dropping requests: unchanged endpoints keep their
   * health, breaker and connections; `server.*` changes need a restart. Counted in
   * sluice_config_reloads_total; a load that throws leaves everything as it was.
   */
  reload(load: () => SluiceConfig): boolean;
  close(): Promise<void>;
}

/** Everything built from one configuration; swapped whole on reload. */
interface Runtime extends ProxyRuntime {
  readonly config: SluiceConfig;
  readonly endpoints: readonly Endpoint[];
  readonly discovery: ModelDiscovery;
  readonly checker: HealthChecker;
}

/** Composition root: builds every part from the config, starts checks and discovery, and listens. */
export async function startSluice(initial: SluiceConfig, options: SluiceOptions = {}): Promise<RunningSluice> {
  const logger = options.logger ?? createLogger(initial.logging.level);
  const startedAt = Date.now();
  const modelStats = new ModelStats();
  const upstreams = new Map<Endpoint, Upstream>();
  let runtime: Runtime;

  const listener: EndpointListener = {
    stateChanged(ep, from, to, reason) {
      metrics.stateTransition(ep.name, from, to);
      logger.warn('endpoint state changed', { endpoint: ep.name, from, to, reason });
      // Models may have changed while it was down: re-discover as soon as it can take traffic.
      if ((from === 'unhealthy' || from === 'unknown') && ep.health.routable) void runtime.discovery.discover(ep);
    },
    circuitChanged(ep, from, to, reason) {
      logger.warn('circuit breaker changed', { endpoint: ep.name, from, to, reason });
    },
  };

  const metrics = new SluiceMetrics(
    {
      endpoints: () =>
        runtime.endpoints.map((ep) => ({
          name: ep.name,
          url: ep.displayUrl,
          type: ep.config.type,
          priority: ep.config.priority,
          state: ep.state,
          routable: ep.routable,
          circuit: ep.breaker.state,
          consecutiveFailures: ep.health.consecutiveFailures,
          activeConnections: ep.activeConnections,
          effectiveWeight: ep.effectiveWeight,
        })),
      modelAvailability: () => runtime.catalog.availability(),
    },
    { version: VERSION },
  );

  /** Builds a runtime, reusing endpoints (and their state) whose configuration did not change. */
  function build(config: SluiceConfig, previous?: Runtime): Runtime {
    const reusable = (ep: Endpoint) => previous !== undefined && isDeepStrictEqual(ep.config, config.endpoints.find((c) => c.name === ep.name)) && isDeepStrictEqual(previous.config.health, config.health) && isDeepStrictEqual(previous.config.breaker, config.breaker);
    const kept = new Map((previous?.endpoints ?? []).filter(reusable).map((ep) => [ep.name, ep]));
    const endpoints = config.endpoints.map((c) => kept.get(c.name) ?? new Endpoint(c, config, Date.now, listener));
    for (const ep of endpoints) {
      metrics.initEndpoint(ep.name);
      const timeoutsChanged = previous && !isDeepStrictEqual(previous.config.proxy, config.proxy);
      if (!upstreams.has(ep) || timeoutsChanged) {
        upstreams.get(ep)?.closeWhenIdle(() => ep.activeConnections === 0);
        upstreams.set(ep, new Upstream(ep.baseUrl, { connectMs: config.proxy.connect_timeout, firstByteMs: config.proxy.first_byte_timeout }, ep.authorization));
      }
    }
    const catalog = new ModelCatalog(endpoints, previous?.catalog);
    catalog.rebuild();
    const discovery = new ModelDiscovery(endpoints, catalog, {
      intervalMs: config.discovery.interval,
      timeoutMs: config.discovery.timeout,
      log: (level, message, fields) => logger.log(level, message, fields),
    });
    const checker = new HealthChecker(endpoints, {
      prober: options.prober ?? httpProber,
      onResult(ep, result) {
        metrics.healthCheck(ep.name, result.ok ? 'success' : result.timedOut ? 'timeout' : 'failure', result.latencyMs / 1000);
        if (result.ok) discovery.retryIfStale(ep);
        else logger.debug('health check failed', { endpoint: ep.name, error: result.error, latency_ms: Math.round(result.latencyMs) });
      },
    });
    const sticky = config.balancing.sticky;
    const forwarder = new Forwarder({
      config,
      endpoints,
      catalog,
      selector: createSelector(config.balancing.strategy, sticky ? { sticky: { maxLoadFactor: sticky.max_load_factor } } : undefined),
      sticky: sticky ? stickyKeySource(sticky.key, sticky.trusted_proxies) : undefined,
      metrics,
      modelStats,
      logger,
      retryAfterSeconds: () => Math.max(1, Math.ceil(Math.min(...endpoints.map((ep) => checker.nextCheckInMs(ep))) / 1000)),
      upstreamFor: (ep) => upstreams.get(ep)!,
    });
    return { config, endpoints, catalog, discovery, checker, forwarder, maxBodyBytes: config.limits.max_body };
  }

  function start(rt: Runtime): void {
    rt.checker.start();
    // Initial discovery runs alongside the first checks; recovery re-discovers anyway.
    void rt.discovery.discoverAll();
    rt.discovery.start();
  }

  function stop(rt: Runtime): void {
    rt.checker.stop();
    rt.discovery.stop();
  }

  runtime = build(initial);

  const status: StatusSource = {
    version: VERSION,
    startedAt,
    get endpoints() {
      return runtime.endpoints;
    },
    get catalog() {
      return runtime.catalog;
    },
    modelStats,
    metrics,
    nextCheckInMs: (ep) => runtime.checker.nextCheckInMs(ep),
    redactedConfig: () => redactedConfig(runtime.config),
  };
  const separateAdmin = initial.server.admin_port !== null && initial.server.admin_port !== undefined;
  const access = new Access(initial, { metrics, logger });
  const adminRouter = access.guardAdmin(statusRouter(status));
  const app = createProxyApp({ current: () => runtime, logger, adminRouter: separateAdmin ? undefined : adminRouter, gate: access.gate });

  const server = http.createServer({ keepAliveTimeout: 65_000 }, app);
  const url = await listen(server, initial.server.host, initial.server.port);
  let adminServer: http.Server | undefined;
  let adminUrl = url;
  if (separateAdmin) {
    adminServer = http.createServer(createAdminApp(adminRouter, logger));
    adminUrl = await listen(adminServer, initial.server.host, initial.server.admin_port!);
  }

  start(runtime);
  logger.info('sluice listening', { url, admin_url: adminUrl, endpoints: runtime.endpoints.map((ep) => ({ name: ep.name, url: ep.displayUrl })), strategy: initial.balancing.strategy, version: VERSION });

  return {
    url,
    adminUrl,
    get endpoints() {
      return runtime.endpoints;
    },
    reload(load) {
      let next: SluiceConfig;
      try {
        next = load();
      } catch (err) {
        metrics.configReload('failure');
        logger.error('configuration reload failed; keeping the running configuration', { error: err instanceof Error ? err.message : String(err) });
        return false;
      }
      if (!isDeepStrictEqual(next.server, runtime.config.server)) logger.warn('server.* changes take effect only after a restart', { server: next.server });
      const previous = runtime;
      const rebuilt = build(next, previous);
      access.update(next);
      stop(previous);
      runtime = rebuilt;
      start(rebuilt);
      for (const ep of previous.endpoints) {
        if (!rebuilt.endpoints.includes(ep)) {
          upstreams.get(ep)?.closeWhenIdle(() => ep.activeConnections === 0);
          upstreams.delete(ep);
        }
      }
      logger.level = next.logging.level;
      metrics.configReload('success');
      logger.info('configuration reloaded', { endpoints: rebuilt.endpoints.map((ep) => ep.name), strategy: next.balancing.strategy });
      return true;
    },
    async close() {
      stop(runtime);
      await Promise.all([closeServer(server), adminServer ? closeServer(adminServer) : undefined]);
      for (const u of upstreams.values()) u.close();
      access.close();
    },
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
    server.closeIdleConnections();
    // In-flight streams get a moment to finish, then are cut.
    setTimeout(() => server.closeAllConnections(), 2000).unref();
  });
}
