import type { Endpoint } from '../endpoints/index.js';
import type { LoadBoard } from '../load/index.js';
import type { BodyBudget } from '../proxy/index.js';
import type { MetricsSource } from '../telemetry/index.js';
import type { Runtime } from './runtime.js';

export interface GaugeView {
  readonly current: () => Runtime;
  /** Live endpoints and those still draining. */
  readonly reported: () => readonly Endpoint[];
  readonly board: LoadBoard;
  /** A cluster primary sends no requests, so its endpoints have no circuit of their own. */
  readonly primary: boolean;
  readonly bodies: BodyBudget;
}

/** What the metrics' gauges read at scrape time: the runtime of the moment, the board. */
export function runtimeGauges(view: GaugeView): MetricsSource {
  const { current, reported, board, primary, bodies } = view;
  return {
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
      current()
        .endpoints.filter((ep) => ep.config.load_source !== 'none')
        .map((ep) => {
          const report = board.get(ep.name)?.report;
          const age = board.ageMs(ep.name);
          return {
            name: ep.name,
            stale: board.freshness(ep.name) === 'stale',
            running: report?.running,
            waiting: report?.waiting,
            kvUsage: report?.kvUsage,
            ageSeconds: age === undefined ? undefined : age / 1000,
          };
        }),
    prefixIndexSize: () => current().selector.prefixIndex?.size ?? 0,
    requestBodiesHeld: () => bodies.held,
  };
}
