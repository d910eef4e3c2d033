import type { EndpointConfig, SluiceConfig } from '../config/index.js';
import { Endpoint, type EndpointListener } from '../endpoints/index.js';
import { planFleet } from '../fleet/index.js';
import { Upstream, type UpstreamTimeouts } from '../proxy/index.js';
import type { Logger, SluiceMetrics } from '../telemetry/index.js';

/** How often draining endpoints are looked at. */
const DRAIN_SWEEP_MS = 250;

export interface EndpointPoolDeps {
  readonly listener: EndpointListener;
  readonly metrics: SluiceMetrics;
  readonly logger: Logger;
  /** Whether the running fleet has an endpoint of that name (a drained one's series then continue). */
  readonly isLive: (name: string) => boolean;
}

/**
 * The process's endpoints across reloads and DNS changes, with the upstream (proxy and
 * keep-alive agent) of each; an endpoint that leaves drains its own requests and streams first.
 */
export interface EndpointPool {
  /**
   * The endpoints for `wanted`, in its order: running ones kept by name and reconfigured in
   * place, new ones created, and the running ones left over retired to drain.
   */
  reconcile(running: readonly Endpoint[], wanted: readonly EndpointConfig[], config: SluiceConfig): Endpoint[];
  /** The upstream of an endpoint of the pool (on every attempt); throws for one that has left. */
  readonly upstreamFor: (ep: Endpoint) => Upstream;
  /** `live`, and the draining endpoints whose name no live endpoint has taken over. */
  withDraining(live: readonly Endpoint[]): Endpoint[];
  /** Stops the drain sweep and closes every upstream. */
  close(): void;
}

export function endpointPool(deps: EndpointPoolDeps): EndpointPool {
  const { listener, metrics, logger } = deps;
  const upstreams = new Map<Endpoint, Upstream>();
  /** Endpoints that left the fleet and still have requests or streams in flight. */
  const draining = new Set<Endpoint>();
  let drainTimer: NodeJS.Timeout | undefined;
  const timeoutsOf = (config: SluiceConfig): UpstreamTimeouts => ({ connectMs: config.proxy.connect_timeout, firstByteMs: config.proxy.first_byte_timeout });

  function reconcile(running: readonly Endpoint[], wanted: readonly EndpointConfig[], config: SluiceConfig): Endpoint[] {
    const plan = planFleet(running, wanted);
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
    // The fleet being built is not current yet: whether a retired name lives on is read from it.
    const wantedNames = new Set(wanted.map((c) => c.name));
    for (const ep of plan.retire) retire(ep, (name) => wantedNames.has(name));
    // In the configured order, so that status and logs read like the file.
    return wanted.map((c) => next.get(c.name)!);
  }

  /**
   * Takes an endpoint out of rotation; its own requests and streams finish, then it is forgotten.
   * `isLive`: whether a name is in the fleet that replaces this one.
   */
  function retire(ep: Endpoint, isLive: (name: string) => boolean): void {
    ep.retire();
    upstreams.get(ep)?.retire();
    draining.add(ep);
    logger.info('endpoint draining', { endpoint: ep.name, url: ep.displayUrl, active_connections: ep.activeConnections });
    drainTimer ??= setInterval(sweepDrained, DRAIN_SWEEP_MS).unref();
    sweepDrained(isLive);
  }

  /** Forgets the drained endpoints; `isLive` says whether a name is in the fleet (the running one by default). */
  function sweepDrained(isLive: (name: string) => boolean = deps.isLive): void {
    for (const ep of draining) {
      const upstream = upstreams.get(ep);
      if (ep.activeConnections > 0 || (upstream?.inFlight ?? 0) > 0) continue;
      upstream?.close();
      upstreams.delete(ep);
      draining.delete(ep);
      logger.info('endpoint drained', { endpoint: ep.name });
      // The same name may live on (its URL changed): its series continue.
      if (!isLive(ep.name)) void metrics.removeEndpoint(ep.name);
    }
    if (draining.size === 0 && drainTimer) {
      clearInterval(drainTimer);
      drainTimer = undefined;
    }
  }

  return {
    reconcile,
    upstreamFor: (ep) => {
      const upstream = upstreams.get(ep);
      if (!upstream) throw new Error(`endpoint ${ep.name} has left the fleet`);
      return upstream;
    },
    withDraining(live) {
      const names = new Set(live.map((ep) => ep.name));
      return [...live, ...[...draining].filter((ep) => !names.has(ep.name))];
    },
    close() {
      if (drainTimer) clearInterval(drainTimer);
      for (const u of upstreams.values()) u.close();
    },
  };
}
