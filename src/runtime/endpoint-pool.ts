import type { EndpointConfig, SluiceConfig } from '../config/index.js';
import { Endpoint, type EndpointListener } from '../endpoints/index.js';
import { planFleet } from '../fleet/index.js';
import { Upstream, type UpstreamTimeouts } from '../proxy/index.js';
import type { Logger, SluiceMetrics } from '../telemetry/index.js';
import { monotonicNow } from './clock.js';

/** How often draining endpoints are looked at. */
const DRAIN_SWEEP_MS = 250;

export interface EndpointPoolDeps {
  readonly listener: EndpointListener;
  readonly metrics: SluiceMetrics;
  readonly logger: Logger;
  /** Whether the running fleet has an endpoint of that name (a drained one's series then continue). */
  readonly isLive: (name: string) => boolean;
}

/** A change of the fleet, prepared: nothing that runs has changed until `commit`. */
export interface FleetChange {
  /** The endpoints for the wanted configurations, in their order: running ones kept, new ones not in the pool yet. */
  readonly endpoints: readonly Endpoint[];
  /** Names that stay but point at another backend now (a new URL): what was learnt of the old one is not the new one's. */
  readonly replaced: readonly string[];
  /** Reconfigures the kept endpoints in place, adds the new ones and retires the ones left over to drain; cannot fail. */
  commit(): void;
  /** Drops what was prepared (the change is refused): the new endpoints' upstreams are closed. */
  abandon(): void;
}

/**
 * The process's endpoints across reloads and DNS changes, with the upstream (proxy and
 * keep-alive agent) of each; an endpoint that leaves drains its own requests and streams first.
 */
export interface EndpointPool {
  /**
   * Prepares the endpoints for `wanted`, changing nothing that runs: running ones kept by name,
   * new ones built (with their upstreams). Throws what building throws, having changed nothing.
   */
  prepare(running: readonly Endpoint[], wanted: readonly EndpointConfig[], config: SluiceConfig): FleetChange;
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

  function prepare(running: readonly Endpoint[], wanted: readonly EndpointConfig[], config: SluiceConfig): FleetChange {
    const plan = planFleet(running, wanted);
    const reconfigure = plan.keep.map(({ endpoint, config: c }) => endpoint.prepareReconfigure(c, config));
    const created = new Map<Endpoint, Upstream>();
    try {
      for (const c of plan.create) {
        const ep = new Endpoint(c, config, monotonicNow, listener);
        created.set(ep, new Upstream(ep.baseUrl, timeoutsOf(config), () => ep.authorization));
      }
    } catch (err) {
      for (const upstream of created.values()) upstream.close();
      throw err;
    }
    const byName = new Map<string, Endpoint>(plan.keep.map(({ endpoint }) => [endpoint.name, endpoint]));
    for (const ep of created.keys()) byName.set(ep.name, ep);
    const runningNames = new Set(running.map((ep) => ep.name));
    return {
      // In the configured order, so that status and logs read like the file.
      endpoints: wanted.map((c) => byName.get(c.name)!),
      replaced: [...created.keys()].filter((ep) => runningNames.has(ep.name)).map((ep) => ep.name),
      commit() {
        for (const apply of reconfigure) apply();
        for (const { endpoint } of plan.keep) upstreams.get(endpoint)?.setTimeouts(timeoutsOf(config));
        for (const [ep, upstream] of created) {
          upstreams.set(ep, upstream);
          metrics.initEndpoint(ep.name);
        }
        // The fleet being committed is not current yet: whether a retired name lives on is read from it.
        const wantedNames = new Set(wanted.map((c) => c.name));
        for (const ep of plan.retire) retire(ep, (name) => wantedNames.has(name));
      },
      abandon() {
        for (const upstream of created.values()) upstream.close();
      },
    };
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
    prepare,
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
