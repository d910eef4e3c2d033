import { isDeepStrictEqual } from 'node:util';
import { ownerDirectory, RedisOwners, StoredResponses, type ResponseOwner } from '../affinity/index.js';
import type { ClusterSide, PrimarySide, WorkerSide } from '../cluster/index.js';
import type { SluiceConfig } from '../config/index.js';
import type { Endpoint } from '../endpoints/index.js';
import { DnsWatcher, expandEndpoints, systemResolver, type Answers, type Resolver } from '../fleet/index.js';
import { httpProber, type HealthChecker, type Prober } from '../health/index.js';
import { LoadBoard } from '../load/index.js';
import { BodyBudget } from '../proxy/index.js';
import { SluiceMetrics, type Logger, type ModelStats } from '../telemetry/index.js';
import { VERSION } from '../version.js';
import { monotonicNow } from './clock.js';
import { endpointEvents } from './endpoint-events.js';
import { endpointPool, type FleetChange } from './endpoint-pool.js';
import { ModelSeries } from './model-series.js';
import { runtimeGauges } from './gauges.js';
import { buildRuntime, trackLoad, type Runtime, type RuntimeDeps } from './runtime.js';

/** A runtime built for a configuration, with the change of the fleet it runs over: committed whole, or dropped. */
interface Transition {
  readonly runtime: Runtime;
  readonly fleet: FleetChange;
}

export interface ControlOptions {
  readonly logger: Logger;
  readonly modelStats: ModelStats;
  readonly prober?: Prober;
  /** Resolves the hosts of `discover: dns` endpoints (default: the system resolver). */
  readonly resolver?: Resolver;
  readonly cluster?: ClusterSide;
  /**
   * Given each reloaded configuration once its runtime is built and before anything is replaced,
   * for what else follows it (access control, whose keys are read from their files then). A throw
   * refuses the reload with nothing changed.
   */
  readonly reloading?: (config: SluiceConfig) => void;
}

/**
 * A process's control plane: the runtime requests are served with, rebuilt whole when the
 * configuration is reloaded or DNS members change, and the checks, load scrapes, discovery and
 * DNS lookups that keep it current. In a cluster the primary runs those; a worker follows it.
 */
export interface Control {
  /** The runtime of the moment (read on every request). */
  readonly current: () => Runtime;
  readonly metrics: SluiceMetrics;
  /** The request bodies the process holds, across reloads (limits.max_body_total). */
  readonly bodies: BodyBudget;
  /** When the endpoint's next active check runs: this process's checker's, or in a worker the primary's. */
  nextCheckInMs(ep: Endpoint): number;
  /** Reads and applies a configuration (see RunningSluice.reload); false, with nothing changed, when reading or building it throws. */
  readonly reload: (load: () => SluiceConfig) => boolean;
  /** Shutdown has begun: DNS lookups stop and changes of DNS members are no longer applied. */
  beginShutdown(): void;
  /** Stops checks, scrapes, discovery and DNS, and closes the connections to the endpoints (once). */
  stop(): void;
}

/** Builds the first runtime (after a first round of DNS lookups) and starts what keeps it current. */
export async function startControl(initial: SluiceConfig, options: ControlOptions): Promise<Control> {
  const { logger, cluster } = options;
  const primary = cluster?.role === 'primary' ? cluster : undefined;
  const worker = cluster?.role === 'worker' ? cluster : undefined;
  // One board for the process: a reload keeps the load of endpoints it keeps.
  const board = new LoadBoard({ staleAfterMs: initial.load.stale_after, now: monotonicNow });
  // One map of stored responses' owners for the process (a reload keeps what it learnt), and the
  // replicas' shared store when configured. A worker tells the others through the primary, which
  // keeps a copy for the workers that start later.
  let stored = storedResponsesFor(initial, undefined);
  // Not in a cluster's primary, which serves no requests.
  const openShared = (config: SluiceConfig, previous: SharedOwners | undefined) => (primary ? undefined : sharedOwnersFor(config, previous, (err) => logger.debug('stored-response store error', { error: err.message })));
  let shared = openShared(initial, undefined);
  const storedResponses = ownerDirectory({
    local: () => stored,
    shared: () => shared?.store,
    ...(worker ? { tell: (id: string, owner: ResponseOwner | undefined) => worker.responseOwner(id, owner) } : {}),
    looked: (result) => metrics.storedResponseLookup(result),
  });
  /** What another process of the cluster learnt: in a worker, another worker's; in the primary, kept for workers that start later. */
  const applyOwner = (id: string, owner: ResponseOwner | undefined): void => (owner ? stored?.remember(id, owner) : stored?.forget(id));

  let runtime: Runtime | undefined;
  let shuttingDown = false;
  let stopped = false;
  const current = (): Runtime => runtime!;

  const bodies = new BodyBudget();
  const metrics = new SluiceMetrics(runtimeGauges({ current, reported: () => pool.withDraining(current().endpoints), board, primary: primary !== undefined, bodies }), {
    version: VERSION,
    ...(cluster ? { processLabel: worker ? String(worker.slot) : 'primary' } : {}),
    ...(worker ? { render: (openMetrics: boolean) => worker.renderMetrics(openMetrics) } : {}),
  });
  const modelSeries = new ModelSeries(metrics, options.modelStats);
  const listener = endpointEvents({
    logger,
    metrics,
    cluster,
    rediscover: (ep) => {
      if (runtime?.endpoints.includes(ep)) void runtime.discovery.discover(ep);
    },
    forgetPrefixes: (ep) => {
      if (runtime?.endpoints.includes(ep)) runtime.selector.prefixIndex?.forget(ep.name);
    },
  });
  const pool = endpointPool({ listener, metrics, logger, isLive: (name) => runtime?.endpoints.some((live) => live.name === name) ?? false });

  const dns = new DnsWatcher({
    resolver: options.resolver ?? systemResolver,
    now: monotonicNow,
    onChange: () => {
      if (!runtime || shuttingDown) return;
      apply(runtime.config);
      primary?.fleetChanged(runtime.config, dns.answers, false);
      logger.info('endpoints updated from DNS', { endpoints: runtime.endpoints.map((ep) => ep.name) });
    },
    log: (level, message, fields) => logger.log(level, message, fields),
  });
  /** In a worker, the DNS members the fleet is built from (the primary's lookups). */
  let fromPrimary: Answers = worker?.answers ?? new Map();
  const nextCheckInMs = (checker: HealthChecker, ep: Endpoint): number => (worker ? worker.nextCheckInMs(ep) : checker.nextCheckInMs(ep));
  const deps: RuntimeDeps = { logger, metrics, modelStats: options.modelStats, currentLabel: modelSeries.currentLabel, board, storedResponses, prober: options.prober ?? httpProber, upstreamFor: pool.upstreamFor, nextCheckInMs, primary };

  /**
   * Builds the runtime for `config` and what it needs (the endpoints it adds), changing nothing
   * that runs: a throw leaves the running runtime, the endpoint pool and the DNS targets as they were.
   */
  function prepare(config: SluiceConfig): Transition {
    const members = worker ? fromPrimary : dns.answersFor(config.endpoints);
    const fleet = pool.prepare(runtime?.endpoints ?? [], expandEndpoints(config.endpoints, members), config);
    try {
      return { runtime: buildRuntime(config, fleet.endpoints, runtime, deps), fleet };
    } catch (err) {
      fleet.abandon();
      throw err;
    }
  }

  /**
   * Replaces the runtime with a prepared one; nothing here throws. Endpoints that stay keep their
   * state; one that now points at another backend is a new endpoint, learnt nothing of the old
   * one (load, prefix claims); checks, scrapes and discovery restart over the new set, taking
   * over those in flight of the backends kept.
   */
  function commit({ runtime: next, fleet }: Transition): void {
    const previous = runtime;
    dns.setTargets(next.config.endpoints);
    fleet.commit();
    trackLoad(next, deps);
    modelSeries.follow(next.catalog);
    for (const name of fleet.replaced) next.selector.prefixIndex?.forget(name);
    stored = storedResponsesFor(next.config, stored);
    shared = openShared(next.config, shared);
    if (previous) {
      previous.catalog.retire();
      previous.checker.stop();
      previous.scraper.stop();
      previous.discovery.stop();
    }
    runtime = next;
    // A worker's checks, scrapes and discovery are the primary's.
    if (worker) return;
    next.checker.start(previous?.checker);
    next.scraper.start(previous?.scraper);
    // Endpoints that kept their models are re-discovered too; recovery re-discovers anyway.
    void next.discovery.discoverAll();
    next.discovery.start();
  }

  /** Rebuilds the runtime over the DNS members of the moment. */
  function apply(config: SluiceConfig): void {
    commit(prepare(config));
  }

  /**
   * Applies a reloaded configuration (see RunningSluice.reload); in a worker it comes from the
   * primary. All or nothing: the runtime is built and what follows the configuration is given it
   * before anything is committed, so a throw leaves the running configuration fully in force.
   */
  function reload(next: SluiceConfig): void {
    const transition = prepare(next);
    try {
      options.reloading?.(next);
    } catch (err) {
      transition.fleet.abandon();
      throw err;
    }
    const waiting = worker ? [] : restartOnly(current().config.server, next.server);
    if (waiting.length > 0) logger.warn('server.* changes take effect only after a restart', { settings: waiting, server: next.server });
    commit(transition);
    // New `discover: dns` endpoints get their members without waiting for the next round.
    if (!worker) void dns.refreshDue();
    logger.level = next.logging.level;
    // The primary counts a cluster's reloads, once.
    if (!worker) metrics.configReload('success');
    primary?.fleetChanged(next, dns.answers, true);
    logger.info('configuration reloaded', { endpoints: current().endpoints.map((ep) => ep.name), strategy: next.balancing.strategy });
  }

  function reloadFrom(load: () => SluiceConfig): boolean {
    // Draining for shutdown: a reload would start checks, scrapes and discovery again.
    if (shuttingDown) {
      logger.warn('configuration reload ignored: shutting down');
      return false;
    }
    try {
      reload(load());
      return true;
    } catch (err) {
      metrics.configReload('failure');
      logger.error('configuration reload failed; keeping the running configuration', { error: err instanceof Error ? err.message : String(err) });
      return false;
    }
  }

  /** The state the primary sends from now on is applied to this worker's runtime. */
  function follow(side: WorkerSide): void {
    side.attach({
      endpoint: (name) => runtime?.endpoints.find((ep) => ep.name === name),
      board,
      modelsChanged: (primed) => runtime?.catalog.follow(primed),
      reload: (config, members) => {
        fromPrimary = members;
        // A worker draining for shutdown builds nothing new (its pool is closing).
        if (shuttingDown) return;
        try {
          reload(config);
        } catch (err) {
          // The primary read the same files a moment ago; this worker keeps what it runs. Counted:
          // the primary counted the reload a success, and this worker now serves another configuration.
          metrics.configReload('failure');
          logger.error('configuration reload failed in this worker; keeping the running configuration', { error: err instanceof Error ? err.message : String(err) });
        }
      },
      membersChanged: (members) => {
        fromPrimary = members;
        if (!runtime || shuttingDown) return;
        apply(runtime.config);
        logger.info('endpoints updated from DNS', { endpoints: runtime.endpoints.map((ep) => ep.name) });
      },
      metricsJson: () => metrics.json(),
      responseOwner: applyOwner,
    });
  }

  /** Lets the primary read this control plane, to hand its state to the workers. */
  function lead(side: PrimarySide): void {
    side.attach({
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
      board,
      nextCheckInMs: (ep) => current().checker.nextCheckInMs(ep),
      metricsJson: () => metrics.json(),
      responseOwner: applyOwner,
      responseOwners: () => stored?.entries() ?? [],
    });
  }

  if (!worker) {
    dns.setTargets(initial.endpoints);
    await dns.refreshAll();
  }
  apply(initial);
  if (!worker) dns.start();
  // The state the primary sent with the configuration applies now, before the first request.
  if (worker) follow(worker);
  if (primary) lead(primary);

  return {
    current,
    metrics,
    bodies,
    nextCheckInMs: (ep) => nextCheckInMs(current().checker, ep),
    reload: reloadFrom,
    beginShutdown() {
      shuttingDown = true;
      dns.stop();
    },
    stop() {
      shuttingDown = true;
      if (stopped) return;
      stopped = true;
      dns.stop();
      const rt = current();
      rt.checker.stop();
      rt.discovery.stop();
      rt.scraper.stop();
      shared?.store.close();
      pool.close();
    },
  };
}

/** The map of stored responses' owners for `config` (`balancing.stored_responses`), keeping what `previous` learnt; none when turned off. */
function storedResponsesFor(config: SluiceConfig, previous: StoredResponses | undefined): StoredResponses | undefined {
  const { max_ids: maxIds, ttl: ttlMs } = config.balancing.stored_responses;
  if (maxIds === 0) return undefined;
  return previous ? previous.withOptions({ maxIds, ttlMs }) : new StoredResponses({ maxIds, ttlMs });
}

/** The replicas' shared store of owners and the settings it was opened with. */
interface SharedOwners {
  readonly store: RedisOwners;
  readonly settings: string;
}

/**
 * The replicas' shared store for `config` (`balancing.stored_responses.redis_url`): `previous` when
 * its settings are the same, else a new connection (the old one closed); none without a URL.
 */
function sharedOwnersFor(config: SluiceConfig, previous: SharedOwners | undefined, onError: (err: Error) => void): SharedOwners | undefined {
  const { redis_url: url, redis_timeout: timeoutMs, ttl: ttlMs, max_ids: maxIds } = config.balancing.stored_responses;
  const settings = JSON.stringify([url, timeoutMs, ttlMs]);
  if (previous?.settings === settings && maxIds > 0) return previous;
  previous?.store.close();
  return url === null || maxIds === 0 ? undefined : { store: new RedisOwners(url, timeoutMs, ttlMs, onError), settings };
}

/** `server.*` settings a reload applies at once (the shutdown reads the grace of the moment; access and the forwarder are rebuilt): the others are the listeners', set when they start. */
const APPLIED_ON_RELOAD: ReadonlySet<string> = new Set(['shutdown_grace', 'trusted_proxies']);

/** The `server.*` settings a reload changes that wait for a restart, as `server.<name>`. */
export function restartOnly(running: SluiceConfig['server'], next: SluiceConfig['server']): string[] {
  const names = Object.keys(next) as Array<keyof SluiceConfig['server']>;
  return names.filter((name) => !APPLIED_ON_RELOAD.has(name) && !isDeepStrictEqual(running[name], next[name])).map((name) => `server.${name}`);
}
