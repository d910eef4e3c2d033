import type { KeyDigest } from '../access/api-keys.js';
import type { ResponseOwner } from '../affinity/index.js';
import type { SluiceConfig } from '../config/index.js';
import type { Endpoint, PassiveSink } from '../endpoints/index.js';
import type { Answers } from '../fleet/index.js';
import type { LoadBoard } from '../load/index.js';
import type { RenderedMetrics } from '../telemetry/index.js';

/**
 * How a Sluice instance takes part in a cluster (`server.workers` > 1). The composition root
 * builds the same parts in every process; the side says which of them run and where changes go.
 */
export type ClusterSide = PrimarySide | WorkerSide;

/** What the cluster code reads of the primary's control plane. */
export interface ControlView {
  readonly config: SluiceConfig;
  readonly answers: Answers;
  readonly endpoints: readonly Endpoint[];
  /** Whether the model catalog is primed (its first discovery round has settled). */
  readonly primed: boolean;
  readonly board: LoadBoard;
  nextCheckInMs(endpoint: Endpoint): number;
  /** This process's metrics as prom-client JSON. */
  metricsJson(): Promise<unknown[]>;
  /** A worker learnt a stored response's owner (or saw it deleted: no owner): kept for workers that start later. */
  responseOwner(id: string, owner: ResponseOwner | undefined): void;
  /** Every stored response's owner kept, the least recently used first. */
  responseOwners(): ReadonlyArray<readonly [string, ResponseOwner]>;
}

/** The primary: runs checks, discovery, load scrapes and DNS, serves no requests, and reports each change. */
export interface PrimarySide {
  readonly role: 'primary';
  /** Called once the control plane runs. */
  attach(view: ControlView): void;
  /** After a check or a state change of the endpoint. */
  healthChanged(endpoint: Endpoint): void;
  /** After discovery rebuilt the catalog, and when the catalog became primed. */
  modelsChanged(endpoints: readonly Endpoint[], primed: boolean): void;
  /** After a load scrape of the endpoint (error set when it failed). */
  loadChanged(endpoint: string, error: string | undefined): void;
  /**
   * A reloaded configuration is about to be committed: reads what the workers are sent with it
   * (the inbound API keys). A throw refuses the reload with nothing changed.
   */
  reloading(config: SluiceConfig): void;
  /** After a reload (`reload` true) or a change of DNS members. */
  fleetChanged(config: SluiceConfig, answers: Answers, reload: boolean): void;
  /** Drains every worker and resolves once all have exited; called again, tells them to cut what is left. */
  stopWorkers(): Promise<void>;
}

/** What the cluster code may do to a worker's runtime when the primary reports a change. */
export interface ReplicaTarget {
  endpoint(name: string): Endpoint | undefined;
  readonly board: LoadBoard;
  /** Model lists were replaced: rebuild the catalog; `primed`: the primary's catalog is primed, so is the worker's. */
  modelsChanged(primed: boolean): void;
  /** A reloaded configuration, with the DNS members to build the fleet from. */
  reload(config: SluiceConfig, answers: Answers): void;
  /** New DNS members under the running configuration. */
  membersChanged(answers: Answers): void;
  /** This worker's metrics as prom-client JSON, for the primary's merge. */
  metricsJson(): Promise<unknown[]>;
  /** Another worker learnt a stored response's owner (or saw it deleted: no owner). */
  responseOwner(id: string, owner: ResponseOwner | undefined): void;
}

/** A worker: serves requests over state that the primary decides. */
export interface WorkerSide {
  readonly role: 'worker';
  /** Which worker this is (0 to workers - 1; a restarted worker takes its predecessor's slot). */
  readonly slot: number;
  /** The DNS members the primary's fleet is built from at this worker's start. */
  readonly answers: Answers;
  /** Where this worker's request outcomes go. */
  readonly passive: PassiveSink;
  /** Called once the runtime is built: the primary's changes are applied to it from then on. */
  attach(target: ReplicaTarget): void;
  nextCheckInMs(endpoint: Endpoint): number;
  /** The merge of every process's metrics, asked of the primary. */
  renderMetrics(openMetrics: boolean): Promise<RenderedMetrics>;
  /** The listeners are bound. */
  serving(): void;
  /** The inbound API keys the primary read for `config` (a configuration it sent), if it sent them. */
  keysFor(config: SluiceConfig): readonly KeyDigest[] | undefined;
  /** This worker learnt a stored response's owner (or saw it deleted: no owner): the other workers are told. */
  responseOwner(id: string, owner: ResponseOwner | undefined): void;
}
