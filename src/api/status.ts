import { Router } from 'express';
import type { ModelCatalog } from '../discovery/index.js';
import type { Endpoint, HealthState } from '../endpoints/index.js';
import type { ModelStats, SluiceMetrics } from '../telemetry/index.js';

export interface StatusSource {
  readonly version: string;
  readonly startedAt: number; // Date.now() at start
  readonly endpoints: readonly Endpoint[];
  readonly catalog: ModelCatalog;
  readonly modelStats: ModelStats;
  readonly metrics: SluiceMetrics;
  /** True once a shutdown has begun: readiness fails so that no new traffic is sent here. */
  readonly shuttingDown: boolean;
  nextCheckInMs(endpoint: Endpoint): number;
  /** The effective configuration with secrets redacted. */
  redactedConfig(): Record<string, unknown>;
}


/** Summary statuses in which Sluice is not ready for traffic (readiness answers 503). */
const NOT_READY: ReadonlySet<string> = new Set(['shutting_down', 'starting', 'unhealthy']);

/**
 * `starting` until the model catalog is primed (the first discovery round has settled): before
 * that, a request for a model the fleet serves could not be routed yet.
 */
export function healthSummary(src: StatusSource) {
  const counts: Record<HealthState, number> & { total: number } = { healthy: 0, degraded: 0, recovering: 0, unhealthy: 0, unknown: 0, total: src.endpoints.length };
  for (const ep of src.endpoints) counts[ep.state]++;
  // By health alone: a 429's cool-down or an open breaker on every endpoint is a moment Sluice
  // answers with 503 and Retry-After; reported unready, every replica would leave the load
  // balancer in front at once, and clients would find no server at all.
  const routable = src.endpoints.some((ep) => ep.health.routable);
  const status = src.shuttingDown ? 'shutting_down' : !src.catalog.warmedUp ? 'starting' : !routable ? 'unhealthy' : counts.healthy === counts.total ? 'healthy' : 'degraded';
  return {
    status,
    endpoints: counts,
    uptime_seconds: Math.round((Date.now() - src.startedAt) / 1000),
    version: src.version,
  };
}

export function endpointStatus(src: StatusSource, ep: Endpoint) {
  const h = ep.health;
  return {
    name: ep.name,
    url: ep.displayUrl,
    type: ep.config.type,
    status: ep.state,
    routable: ep.routable,
    circuit: ep.breaker.state,
    priority: ep.config.priority,
    backup: ep.config.backup,
    weight: ep.config.weight,
    effective_weight: round(ep.effectiveWeight),
    active_connections: ep.activeConnections,
    max_connections: ep.config.max_connections ?? null,
    last_check: h.lastCheckAt === undefined ? null : new Date(h.lastCheckAt).toISOString(),
    last_latency_ms: h.lastLatencyMs === undefined ? null : round(h.lastLatencyMs),
    consecutive_failures: h.consecutiveFailures,
    next_check_in_ms: Math.round(src.nextCheckInMs(ep)),
    uptime_percentage: h.checksTotal === 0 ? null : round((100 * h.checksPassed) / h.checksTotal),
    last_error: h.lastError ?? null,
    models: [...ep.models].sort(),
    // False until the endpoint's model list has answered once: its `models` are then not known, not empty.
    models_known: ep.modelsKnown,
  };
}

export function modelStatsView(src: StatusSource) {
  const names = new Set([...src.catalog.entries().map((e) => e.model), ...src.modelStats.models().filter((m) => m !== 'none' && m !== 'unknown')]);
  return [...names].sort().map((model) => {
    const stats = src.modelStats.view(model);
    return {
      model,
      ...stats,
      endpoints: src.catalog.endpointsFor(model).map((ep) => ({ name: ep.name, status: ep.state, routable: ep.routable })),
    };
  });
}

/** Sluice's own routes: `/metrics` and the JSON status API under `/internal/`. */
export function statusRouter(src: StatusSource): Router {
  const router = Router();
  router.get('/metrics', async (req, res) => {
    const { contentType, body } = await src.metrics.render(req.headers.accept);
    res.type(contentType).send(body);
  });
  // Liveness: the process serves requests, whatever its endpoints' state (a liveness probe that
  // failed with the backends would restart a healthy Sluice). /internal/health is readiness.
  router.get('/internal/live', (_req, res) => {
    res.json({ status: 'ok', uptime_seconds: Math.round((Date.now() - src.startedAt) / 1000) });
  });
  router.get('/internal/health', (_req, res) => {
    const summary = healthSummary(src);
    res.status(NOT_READY.has(summary.status) ? 503 : 200).json(summary);
  });
  router.get('/internal/status/endpoints', (_req, res) => {
    res.json({ endpoints: src.endpoints.map((ep) => endpointStatus(src, ep)) });
  });
  router.get('/internal/stats/models', (_req, res) => {
    res.json({ models: modelStatsView(src) });
  });
  router.get('/internal/status', (_req, res) => {
    res.json({
      health: healthSummary(src),
      endpoints: src.endpoints.map((ep) => endpointStatus(src, ep)),
      models: modelStatsView(src),
      config: src.redactedConfig(),
    });
  });
  router.all('/internal/{*rest}', (req, res) => {
    res.status(404).json({ error: { message: `no such status route: ${req.path}`, type: 'invalid_request_error', param: null, code: 'not_found' } });
  });
  return router;
}


function round(n: number): number {
  return Math.round(n * 100) / 100;
}
