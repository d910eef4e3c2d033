import cluster, { type Worker } from 'node:cluster';
import { digestKeys, type KeyDigest } from '../access/api-keys.js';
import { readApiKeys } from '../access/secrets.js';
import type { SluiceConfig } from '../config/index.js';
import type { Endpoint } from '../endpoints/index.js';
import type { Answers } from '../fleet/index.js';
import type { Logger, RenderedMetrics } from '../telemetry/index.js';
import { isToPrimary, type StateMessage, type ToPrimary, type ToWorker } from './messages.js';
import { endpointsNamed, forgetEndpoints, mergeMetrics, retire } from './metrics-merge.js';
import { applyPassive } from './passive-relay.js';
import { fullState, healthMessage, loadMessages, modelsMessage } from './primary-state.js';
import { RestartBackoff } from './restart-backoff.js';
import type { ControlView, PrimarySide } from './side.js';

/** The environment variable that tells a worker its slot. */
export const WORKER_SLOT_ENV = 'SLUICE_WORKER_SLOT';

/** How long the primary waits for a worker's metrics before merging without them. */
const COLLECT_TIMEOUT_MS = 5000;

interface Slot {
  worker: Worker;
  startedAt: number;
  /** Said hello and got the full state: changes are sent to it from then on. */
  synced: boolean;
}

interface Collection {
  /** Each slot's answer. */
  readonly parts: Map<number, unknown[]>;
  readonly waiting: Set<number>;
  readonly done: () => void;
}

/**
 * The primary of a cluster: forks the workers (restarting one that dies, with a backoff), sends
 * each the configuration and state, then every change of it; applies what the workers' requests
 * saw to its own state machines; merges everyone's metrics when a worker is scraped.
 */
export class ClusterPrimary implements PrimarySide {
  readonly role = 'primary';
  readonly #count: number;
  readonly #logger: Logger;
  readonly #slots = new Map<number, Slot>();
  readonly #backoff = new RestartBackoff();
  readonly #collections = new Map<number, Collection>();
  #nextCollection = 0;
  /** Each slot's worker's metrics as it last reported them: its part of a merge it does not answer in time. */
  readonly #lastReports = new Map<number, unknown[]>();
  /** The counters and histograms of the workers that died, as they last reported them (see retire). */
  #retired: Promise<unknown[]> = Promise.resolve([]);
  #view: ControlView | undefined;
  /** `server.*` as the cluster started: what every worker, a restarted one too, binds its listeners with. */
  #listen: SluiceConfig['server'] | undefined;
  /** When the cluster started: every worker's `uptime_seconds` counts from it. */
  readonly #startedAt = Date.now();
  /** The inbound API keys of the running configuration, and of one being reloaded (see reloading). */
  #apiKeys: readonly KeyDigest[] = [];
  #reloadKeys: readonly KeyDigest[] = [];
  #stopping = false;
  /** SIGTERM has been passed on to the workers. */
  #signalled = false;
  #allExited: (() => void) | undefined;
  /** A worker has listened: from then on a worker that dies is restarted. */
  #served = false;
  #startFailed: (() => void) | undefined;
  /**
   * Resolves when a worker exits before any worker has served (its port in use, say): start-up
   * failed, and no worker is restarted. Restarting would only fail again, every 10 s, forever.
   */
  readonly startFailure = new Promise<'start_failed'>((resolve) => (this.#startFailed = () => resolve('start_failed')));

  constructor(workers: number, logger: Logger) {
    this.#count = workers;
    this.#logger = logger;
  }

  attach(view: ControlView): void {
    this.#view = view;
    this.#listen ??= view.config.server;
    this.#apiKeys = readKeys(view.config);
  }

  reloading(config: SluiceConfig): void {
    this.#reloadKeys = readKeys(config);
  }

  // A check or discovery round of a runtime a reload replaced can still finish after it; its news
  // is about endpoint objects no longer served, and the workers match endpoints by name, so it
  // would overwrite the current endpoint's state with the retired one's.

  healthChanged(endpoint: Endpoint): void {
    if (this.#view?.endpoints.includes(endpoint)) this.#broadcast(healthMessage(endpoint, this.#view.nextCheckInMs(endpoint), Date.now()));
  }

  modelsChanged(endpoints: readonly Endpoint[], primed: boolean): void {
    const current = this.#view?.endpoints;
    if (current && endpoints.every((ep) => current.includes(ep))) this.#broadcast(modelsMessage(endpoints, primed));
  }

  loadChanged(endpoint: string, error: string | undefined): void {
    if (error !== undefined) this.#broadcast({ type: 'sluice:load', endpoint, error });
    else if (this.#view) for (const message of loadMessages(this.#view, endpoint)) this.#broadcast(message);
  }

  fleetChanged(config: SluiceConfig, answers: Answers, reload: boolean): void {
    if (reload) this.#apiKeys = this.#reloadKeys;
    this.#broadcast(reload ? { type: 'sluice:config', config, answers, reload: true, apiKeys: this.#apiKeys } : { type: 'sluice:fleet', answers });
  }

  /** Forks every worker. Call once the control plane runs (attach was called). */
  start(): void {
    cluster.setupPrimary({ serialization: 'advanced' });
    for (let slot = 0; slot < this.#count; slot++) this.#fork(slot);
  }

  /** Worker process ids now running. */
  get pids(): number[] {
    return [...this.#slots.values()].flatMap((s) => (s.worker.process.pid === undefined ? [] : [s.worker.process.pid]));
  }

  /**
   * Sends SIGTERM to every worker (each drains for server.shutdown_grace; a second call tells
   * them over IPC to cut what is left) and resolves once all have exited. No worker is restarted
   * from then on. The cut goes over IPC, not as a second SIGTERM: a SIGTERM sent to the whole
   * process group (systemd's default) reaches each worker besides the one passed on here.
   */
  stopWorkers(): Promise<void> {
    const again = this.#signalled;
    this.#stopping = true;
    this.#signalled = true;
    for (const { worker } of this.#slots.values()) {
      if (worker.isDead()) continue;
      if (again) send(worker, { type: 'sluice:cut' });
      else worker.process.kill('SIGTERM');
    }
    if (this.#slots.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const previous = this.#allExited;
      this.#allExited = () => {
        previous?.();
        resolve();
      };
    });
  }

  #fork(slot: number): void {
    let worker: Worker;
    try {
      worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot) });
    } catch (err) {
      // Node could not start a process (a process or memory limit): as a worker that died at once.
      this.#afterDeath(slot, 0, false, { error: err instanceof Error ? err.message : String(err) });
      return;
    }
    this.#slots.set(slot, { worker, startedAt: Date.now(), synced: false });
    worker.on('message', (message: unknown) => {
      if (isToPrimary(message)) this.#onMessage(slot, worker, message);
    });
    worker.on('exit', (code, signal) => this.#onExit(slot, worker, code, signal));
    // Without a listener, a worker's process error (a spawn that failed, EAGAIN say) would end the primary.
    worker.on('error', (err) => {
      this.#logger.error('worker process error', { worker: slot, worker_pid: worker.process.pid, error: err.message });
      // A process that never started has no exit of its own to wait for.
      if (worker.process.pid === undefined) this.#onExit(slot, worker, null, null);
    });
  }

  #onExit(slot: number, worker: Worker, code: number | null, signal: string | null): void {
    const entry = this.#slots.get(slot);
    if (!entry || entry.worker !== worker) return;
    // Its answer to a scrape in progress leaves that merge: it joins the dead workers' counts
    // below, which the merge adds once it is done. Counted in both, it would be counted twice.
    for (const collection of this.#collections.values()) {
      collection.parts.delete(slot);
      collection.waiting.delete(slot);
      if (collection.waiting.size === 0) collection.done();
    }
    this.#slots.delete(slot);
    this.#retireReport(slot);
    this.#afterDeath(slot, Date.now() - entry.startedAt, code === 0, { worker_pid: worker.process.pid, code, signal });
  }

  /**
   * A slot's worker is gone after running `ranMs` (`clean`: it exited with status 0, stopped on
   * its own after draining): restarted, after a backoff unless clean, unless stopping or start-up failed.
   */
  #afterDeath(slot: number, ranMs: number, clean: boolean, fields: Record<string, unknown>): void {
    if (!this.#served && !this.#stopping) {
      this.#logger.error('worker failed to start; stopping', { worker: slot, ...fields });
      this.#stopping = true;
      this.#startFailed?.();
    }
    if (this.#stopping) {
      this.#logger.info('worker stopped', { worker: slot, ...fields });
      if (this.#slots.size === 0) this.#allExited?.();
      return;
    }
    // The slot stays empty until the restart: a shutdown meanwhile does not wait for it. A worker
    // that exited cleanly did not crash: said so, and no backoff.
    if (clean) {
      const delay = this.#backoff.delayAfterExit(slot);
      this.#logger.warn('worker exited; restarting it', { worker: slot, ...fields, restart_in_ms: delay });
      return this.#restartAfter(slot, delay);
    }
    const delay = this.#backoff.delayAfterDeath(slot, ranMs);
    this.#logger.error('worker died; restarting it', { worker: slot, ...fields, restart_in_ms: delay });
    this.#restartAfter(slot, delay);
  }

  #restartAfter(slot: number, delay: number): void {
    // Not unref'd: while every worker is down, this timer is what keeps the primary running.
    setTimeout(() => {
      if (!this.#stopping) this.#fork(slot);
    }, delay);
  }

  #onMessage(slot: number, worker: Worker, message: ToPrimary): void {
    const view = this.#view;
    if (!view) return;
    switch (message.type) {
      case 'sluice:hello':
        for (const state of fullState(view, Date.now(), { listen: this.#listen, startedAt: this.#startedAt, apiKeys: this.#apiKeys })) send(worker, state);
        if (this.#slots.get(slot)?.worker === worker) this.#slots.get(slot)!.synced = true;
        return;
      case 'sluice:serving':
        this.#served = true;
        this.#logger.info('worker serving', { worker: slot, worker_pid: worker.process.pid });
        return;
      case 'sluice:connection-failed':
      case 'sluice:latency-failed':
      case 'sluice:outcomes':
        applyPassive((name) => view.endpoints.find((ep) => ep.name === name), message);
        return;
      case 'sluice:response-owner':
        // Kept here for the workers that start later, and passed on to every other worker.
        view.responseOwner(message.id, message.owner);
        for (const other of this.#slots.values()) if (other.synced && other.worker !== worker) send(other.worker, message);
        return;
      case 'sluice:metrics-request':
        void this.#merged(message.openMetrics).then(
          (merged) => send(worker, { type: 'sluice:merged-metrics', id: message.id, ...merged }),
          (err: unknown) => {
            this.#logger.error('metrics merge failed', { error: err instanceof Error ? err.message : String(err) });
            send(worker, { type: 'sluice:merged-metrics', id: message.id, contentType: 'text/plain', body: '' });
          },
        );
        return;
      case 'sluice:worker-metrics': {
        if (this.#slots.get(slot)?.worker === worker) this.#lastReports.set(slot, message.metrics);
        const collection = this.#collections.get(message.id);
        if (!collection?.waiting.delete(slot)) return;
        collection.parts.set(slot, message.metrics);
        if (collection.waiting.size === 0) collection.done();
        return;
      }
    }
  }

  /**
   * The primary's metrics and every serving worker's, merged, with what the dead workers had
   * counted. A worker that does not answer in time counts as it last reported: left out, its
   * counters would drop for one scrape and come back, each a counter reset to Prometheus. A worker
   * that dies meanwhile counts once, with the dead (see #onExit).
   */
  async #merged(openMetrics: boolean): Promise<RenderedMetrics> {
    const view = this.#view!;
    const own = await view.metricsJson();
    const id = this.#nextCollection++;
    const parts = new Map<number, unknown[]>();
    const targets = [...this.#slots.entries()].filter(([, s]) => s.synced && s.worker.isConnected());
    const waiting = new Set(targets.map(([slot]) => slot));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, COLLECT_TIMEOUT_MS);
      function finish(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#collections.set(id, { parts, waiting, done: finish });
      if (targets.length === 0) finish();
      for (const [, s] of targets) send(s.worker, { type: 'sluice:collect-metrics', id });
    });
    this.#collections.delete(id);
    for (const slot of waiting) {
      const last = this.#lastReports.get(slot);
      if (last) parts.set(slot, last);
    }
    // The primary's part first: gauges merged with `first` take the primary's value.
    const living = [own, ...parts.values()];
    // Read now, in the same turn as the collection ended: a worker that exits later is in `parts`, not in these.
    const retired = this.#forgetLeft(new Set([...view.endpoints.map((ep) => ep.name), ...endpointsNamed(living)]));
    return mergeMetrics([...living, await retired], openMetrics);
  }

  /**
   * Drops from the dead workers' counts the endpoints not in `live`: gone from the fleet and
   * drained in every live process, which have dropped their series (see forgetEndpoints).
   */
  #forgetLeft(live: ReadonlySet<string>): Promise<unknown[]> {
    this.#retired = this.#retired.then((retired) => forgetEndpoints(retired, live));
    return this.#retired;
  }

  /** A slot's worker has exited: what it last reported joins the dead workers' counts. */
  #retireReport(slot: number): void {
    const last = this.#lastReports.get(slot);
    this.#lastReports.delete(slot);
    if (!last) return;
    this.#retired = this.#retired.then((retired) =>
      retire(retired, last).catch((err: unknown) => {
        this.#logger.error('keeping a dead worker\'s counts failed', { worker: slot, error: err instanceof Error ? err.message : String(err) });
        return retired;
      }),
    );
  }

  #broadcast(message: StateMessage): void {
    for (const { worker, synced } of this.#slots.values()) if (synced) send(worker, message);
  }
}

/** The digests of the configuration's inbound API keys, read from their variables and files (none for a stub configuration in tests). */
function readKeys(config: SluiceConfig): readonly KeyDigest[] {
  return config.auth ? digestKeys(readApiKeys(config, process.env)) : [];
}

/** Sends unless the worker is gone (its exit is handled on its own). */
function send(worker: Worker, message: ToWorker): void {
  if (!worker.isConnected()) return;
  worker.send(message, () => undefined);
}
