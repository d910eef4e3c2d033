import { Access } from './access/index.js';
import { statusRouter, type StatusSource } from './api/index.js';
import type { ClusterSide } from './cluster/index.js';
import { redactedConfig, type SluiceConfig } from './config/index.js';
import type { Endpoint } from './endpoints/index.js';
import type { Resolver } from './fleet/index.js';
import type { Prober } from './health/index.js';
import { adminClientError, createAdminApp, createProxyApp, socketRefusals } from './proxy/index.js';
import { startControl } from './runtime/index.js';
import { collectStartupGarbage, startListeners } from './server/index.js';
import { createLogger, type Logger, ModelStats } from './telemetry/index.js';
import { VERSION } from './version.js';

export { VERSION };

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
  /**
   * The `server.*` settings to bind the listeners with (default: the configuration's). A cluster
   * worker restarted after a reload binds with the cluster's start settings, as the others did.
   */
  readonly listen?: SluiceConfig['server'];
  /** When Sluice started, for `uptime_seconds` (default: now; a cluster worker gets the cluster's). */
  readonly startedAt?: number;
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

/**
 * Composition root: starts the control plane (runtime, checks, discovery, DNS) and, unless this
 * is a cluster primary, the access control, status surface and listeners over it.
 */
export async function startSluice(initial: SluiceConfig, options: SluiceOptions = {}): Promise<RunningSluice> {
  const logger = options.logger ?? createLogger(initial.logging.level);
  const { cluster } = options;
  const worker = cluster?.role === 'worker' ? cluster : undefined;
  const startedAt = options.startedAt ?? Date.now();
  const modelStats = new ModelStats();
  /** Access control and rate limits (none in a cluster primary, which serves no requests). */
  let access: Access | undefined;
  const control = await startControl(initial, {
    logger,
    modelStats,
    cluster,
    prober: options.prober,
    resolver: options.resolver,
    reloading: (config) => (cluster?.role === 'primary' ? cluster.reloading(config) : access?.update(config)),
  });
  const { current, metrics } = control;

  if (cluster?.role === 'primary') {
    const primary = cluster;
    let closing: Promise<void> | undefined;
    logger.info('sluice primary running checks', { endpoints: current().endpoints.map((ep) => ({ name: ep.name, url: ep.displayUrl })), version: VERSION });
    return {
      url: '',
      adminUrl: '',
      get endpoints() {
        return current().endpoints;
      },
      reload: control.reload,
      // The workers drain (each for its server.shutdown_grace); called again with 0, they cut what is left.
      close(graceMs) {
        if (closing && graceMs === 0) void primary.stopWorkers();
        // Shutdown begins now, not once the workers have exited: a SIGHUP or a change of DNS
        // members while they drain is not applied, as in a single process.
        control.beginShutdown();
        closing ??= primary.stopWorkers().then(() => control.stop());
        return closing;
      },
    };
  }

  let shuttingDown = false;
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
    nextCheckInMs: (ep) => control.nextCheckInMs(ep),
    redactedConfig: () => redactedConfig(current().config),
  };
  const listen = options.listen ?? initial.server;
  const adminPort = listen.admin_port ?? undefined;
  // From the configuration in force: in a cluster worker, a reload that came with the first
  // configuration has been applied by now (see Replica.attach), keys and rate limits included.
  const guard = new Access(current().config, { metrics, logger, ...(worker ? { keysFor: (config: SluiceConfig) => worker.keysFor(config) } : {}) });
  access = guard;
  const adminRouter = guard.guardAdmin(statusRouter(status));
  const app = createProxyApp({ current, logger, adminRouter: adminPort === undefined ? adminRouter : undefined, gate: guard.gate, bodies: control.bodies });

  // Start-up's garbage, collected before the port opens rather than in the first seconds of load.
  const startupGcMs = collectStartupGarbage();
  const listeners = await startListeners({
    server: listen,
    proxy: (req, res) => {
      // During shutdown a keep-alive client is told to reconnect elsewhere.
      if (shuttingDown) res.shouldKeepAlive = false;
      // With route headers on, a cluster worker says which one it is.
      if (worker && current().config.proxy.expose_route_headers) res.setHeader('x-sluice-worker', String(worker.slot));
      return app(req, res);
    },
    refusals: socketRefusals(() => current().forwarder),
    ...(adminPort === undefined ? {} : { admin: { port: adminPort, listener: createAdminApp(adminRouter, logger), clientError: adminClientError } }),
    logger,
    metrics,
  });
  const { url, adminUrl } = listeners;
  worker?.serving();

  logger.info('sluice listening', { url, admin_url: adminUrl, startup_gc_ms: Math.round(startupGcMs), endpoints: current().endpoints.map((ep) => ({ name: ep.name, url: ep.displayUrl })), strategy: initial.balancing.strategy, version: VERSION });

  let closing: Promise<void> | undefined;
  return {
    url,
    adminUrl,
    get endpoints() {
      return current().endpoints;
    },
    reload: control.reload,
    close(graceMs) {
      // Asked again with no grace while draining: cut now.
      if (closing && graceMs === 0) listeners.endGrace();
      closing ??= (async () => {
        shuttingDown = true;
        control.beginShutdown();
        const cut = await listeners.close(graceMs ?? current().config.server.shutdown_grace);
        control.stop();
        guard.close();
        logger.info('shut down', { cut });
      })();
      return closing;
    },
  };
}
