import type { ClusterSide } from '../cluster/index.js';
import type { Endpoint, EndpointListener } from '../endpoints/index.js';
import type { Logger, SluiceMetrics } from '../telemetry/index.js';

export interface EndpointEventsDeps {
  readonly logger: Logger;
  readonly metrics: SluiceMetrics;
  readonly cluster: ClusterSide | undefined;
  /** Re-discovers the models of an endpoint that came back, if it is still in the running fleet. */
  readonly rediscover: (ep: Endpoint) => void;
  /** Drops what the running runtime's prefix index claims the endpoint's cache holds. */
  readonly forgetPrefixes: (ep: Endpoint) => void;
}

/** What an endpoint's health and circuit changes set off: counts, logs, the primary's report, re-discovery, forgotten prefix claims. */
export function endpointEvents(deps: EndpointEventsDeps): EndpointListener {
  const { logger, metrics, cluster } = deps;
  const primary = cluster?.role === 'primary' ? cluster : undefined;
  const worker = cluster?.role === 'worker' ? cluster : undefined;
  return {
    stateChanged(ep, from, to, reason) {
      // An endpoint gone unhealthy has most often restarted, or will be by the time it is back:
      // its cache is empty, and prefixes routed to it for its old claims would miss. Each process
      // keeps its own index, workers included.
      if (to === 'unhealthy') deps.forgetPrefixes(ep);
      // A worker's state follows the primary's, which counts and logs the transition once.
      if (worker) return;
      primary?.healthChanged(ep);
      metrics.stateTransition(ep.name, from, to);
      logger.warn('endpoint state changed', { endpoint: ep.name, from, to, reason });
      // Models may have changed while it was down: re-discover as soon as it can take traffic.
      if ((from === 'unhealthy' || from === 'unknown') && ep.health.routable) deps.rediscover(ep);
    },
    circuitChanged(ep, from, to, reason) {
      logger.warn('circuit breaker changed', { endpoint: ep.name, from, to, reason });
    },
    ...(worker ? { passive: worker.passive } : {}),
  };
}
