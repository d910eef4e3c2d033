import { createRequire } from 'node:module';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createSelector } from './balancing/index.js';
import { redactedConfig, type SluiceConfig } from './config/index.js';
import { ModelCatalog } from './discovery/catalog.js';
import { ModelDiscovery } from './discovery/discovery.js';
import { Endpoint, type EndpointListener } from './endpoints/endpoint.js';
import { HealthChecker } from './health/checker.js';
import { httpProber, type Prober } from './health/prober.js';
import { statusRouter, type StatusSource } from './api/status.js';
import { createProxyApp } from './proxy/app.js';
import { Forwarder } from './proxy/forwarder.js';
import { stickyKeySource } from './proxy/sticky-key.js';
import { createLogger, type Logger } from './telemetry/logging.js';
import { SluiceMetrics } from './telemetry/metrics.js';
import { ModelStats } from './telemetry/model-stats.js';

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
  close(): Promise<void>;
}

/** Composition root: builds every part from the config, starts checks and discovery, and listens. */
export async function startSluice(config: SluiceConfig, options: SluiceOptions = {}): Promise<RunningSluice> {
  const logger = options.logger ?? createLogger(config.logging.level);
  const startedAt = Date.now();
  let metrics: SluiceMetrics | undefined;
  let discovery: ModelDiscovery | undefined;

  const listener: EndpointListener = {
    stateChanged(ep, from, to, reason) {
      metrics?.stateTransition(ep.name, from, to);
      logger.warn('endpoint state changed', { endpoint: ep.name, from, to, reason });
      // Models may have changed while it was down: re-discover as soon as it can take traffic.
      if ((from === 'unhealthy' || from === 'unknown') && ep.health.routable) void discovery?.discover(ep);
    },
    circuitChanged(ep, from, to, reason) {
      logger.warn('circuit breaker changed', { endpoint: ep.name, from, to, reason });
    },
  };
  const endpoints = config.endpoints.map((c) => new Endpoint(c, config, Date.now, listener));
  const catalog = new ModelCatalog(endpoints);
  const modelStats = new ModelStats();
  metrics = new SluiceMetrics(
    {
      endpoints: () =>
        endpoints.map((ep) => ({
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
      modelAvailability: () => catalog.availability(),
    },
    { version: VERSION },
  );
  for (const ep of endpoints) metrics.initEndpoint(ep.name);

  discovery = new ModelDiscovery(endpoints, catalog, {
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
  const selector = createSelector(config.balancing.strategy, sticky ? { sticky: { maxLoadFactor: sticky.max_load_factor } } : undefined);
  const forwarder = new Forwarder({
    config,
    endpoints,
    catalog,
    selector,
    sticky: sticky ? stickyKeySource(sticky.key, sticky.trusted_proxies) : undefined,
    metrics,
    modelStats,
    logger,
    retryAfterSeconds: () => Math.max(1, Math.ceil(Math.min(...endpoints.map((ep) => checker.nextCheckInMs(ep))) / 1000)),
  });

  const status: StatusSource = {
    version: VERSION,
    startedAt,
    endpoints,
    catalog,
    modelStats,
    metrics,
    nextCheckInMs: (ep) => checker.nextCheckInMs(ep),
    redactedConfig: () => redactedConfig(config),
  };
  const separateAdmin = config.server.admin_port !== undefined && config.server.admin_port !== null;
  const app = createProxyApp({ forwarder, catalog, maxBodyBytes: config.limits.max_body, logger, adminRouter: separateAdmin ? undefined : statusRouter(status) });

  const server = http.createServer({ keepAliveTimeout: 65_000 }, app);
  const url = await listen(server, config.server.host, config.server.port);
  let adminServer: http.Server | undefined;
  let adminUrl = url;
  if (separateAdmin) {
    const adminApp = express();
    adminApp.disable('x-powered-by');
    adminApp.use(statusRouter(status));
    adminServer = http.createServer(adminApp);
    adminUrl = await listen(adminServer, config.server.host, config.server.admin_port!);
  }

  checker.start();
  // Initial discovery runs alongside the first checks; recovery re-discovers anyway.
  void discovery.discoverAll();
  discovery.start();
  logger.info('sluice listening', { url, admin_url: adminUrl, endpoints: endpoints.map((ep) => ({ name: ep.name, url: ep.displayUrl })), strategy: config.balancing.strategy, version: VERSION });

  return {
    url,
    adminUrl,
    endpoints,
    async close() {
      checker.stop();
      discovery.stop();
      await Promise.all([closeServer(server), adminServer ? closeServer(adminServer) : undefined]);
      forwarder.close();
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
