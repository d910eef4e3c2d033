import type { KeyDigest } from '../access/api-keys.js';
import type { ResponseOwner } from '../affinity/index.js';
import type { SluiceConfig } from '../config/index.js';
import type { HealthSnapshot } from '../endpoints/index.js';
import type { Answers } from '../fleet/index.js';
import type { LoadReport } from '../load/index.js';

/**
 * The messages between a cluster primary and its workers (IPC with `serialization: 'advanced'`,
 * so Maps and Sets travel as they are). The primary owns health checks, discovery, load scrapes
 * and DNS; it tells the workers each change. Workers tell it what their requests saw and ask it
 * for the merged metrics.
 */

/** Primary -> worker: the configuration and DNS answers to build the fleet from (at start and on reload). */
export interface ConfigMessage {
  readonly type: 'sluice:config';
  readonly config: SluiceConfig;
  readonly answers: Answers;
  /** True for a reload (counted and logged by the primary), false for a worker's first config. */
  readonly reload: boolean;
  /**
   * In a worker's first config: the `server.*` settings to bind its listeners with, the cluster's
   * as it started. A reload's `server.*` changes take effect only after a restart, so a worker
   * restarted after one binds as the others did, not on a reloaded `server.port`.
   */
  readonly listen?: SluiceConfig['server'];
  /**
   * In a worker's first config: when the cluster started (Date.now() in the primary). The status
   * API's `uptime_seconds` is the cluster's from every worker, not a restarted worker's own.
   */
  readonly startedAt?: number;
  /**
   * The inbound API keys (`auth.api_keys`) as the primary read them for this configuration: a
   * worker takes them from here rather than reading the variables and files itself, so that one
   * restarted after a key file was removed or emptied still starts with the keys in force (it
   * crashed at start, and was restarted again and again), and every worker has the same keys.
   */
  readonly apiKeys?: readonly KeyDigest[];
}

/** Primary -> worker: `discover: dns` members changed. */
export interface FleetMessage {
  readonly type: 'sluice:fleet';
  readonly answers: Answers;
}

/** Primary -> worker: an endpoint's health after a check or a transition. */
export interface HealthMessage {
  readonly type: 'sluice:health';
  readonly endpoint: string;
  readonly health: HealthSnapshot;
  /** Clock time of the endpoint's next active check (Retry-After, status API). */
  readonly nextCheckAt: number;
}

/** Primary -> worker: the model lists of the endpoints (after discovery changed the catalog). */
export interface ModelsMessage {
  readonly type: 'sluice:models';
  /**
   * Each endpoint's models, for the endpoints whose models are known (a listing has answered).
   * One that has never listed is absent, so that the worker's copy stays unknown too: while it is,
   * a model no endpoint is known to serve is answered 503 `model_lists_pending`, not 404.
   */
  readonly models: ReadonlyMap<string, readonly string[]>;
  /** Whether the primary's catalog is primed (its first discovery round has settled): the workers' follow it. */
  readonly primed: boolean;
}

/** Primary -> worker: one load scrape's outcome. */
export interface LoadMessage {
  readonly type: 'sluice:load';
  readonly endpoint: string;
  readonly report?: LoadReport;
  readonly error?: string;
}

/** Primary -> worker: send your metrics (as prom-client JSON) for a merge. */
export interface CollectMetricsMessage {
  readonly type: 'sluice:collect-metrics';
  readonly id: number;
}

/** Primary -> worker: the merged metrics asked for with `id`. */
export interface MergedMetricsMessage {
  readonly type: 'sluice:merged-metrics';
  readonly id: number;
  readonly contentType: string;
  readonly body: string;
}

/** Primary -> worker: stop draining, cut what is left now (the primary got a second stop signal). */
export interface CutMessage {
  readonly type: 'sluice:cut';
}

/**
 * Worker -> primary, then primary -> the other workers: a worker learnt which endpoint created a
 * stored response (`owner`), or saw it deleted (no `owner`), so that a follow-up any worker takes
 * goes there.
 */
export interface ResponseOwnerMessage {
  readonly type: 'sluice:response-owner';
  readonly id: string;
  readonly owner?: ResponseOwner;
}

/**
 * Primary -> a (re)started worker: every stored response's owner the cluster knows (the primary
 * keeps what the workers told it), the least recently used first.
 */
export interface ResponseOwnersMessage {
  readonly type: 'sluice:response-owners';
  readonly entries: ReadonlyArray<readonly [string, ResponseOwner]>;
}

export type StateMessage = ConfigMessage | FleetMessage | HealthMessage | ModelsMessage | LoadMessage | ResponseOwnerMessage | ResponseOwnersMessage;
export type ToWorker = StateMessage | CollectMetricsMessage | MergedMetricsMessage | CutMessage;

/** Worker -> primary: started, send me the configuration and the current state. */
export interface HelloMessage {
  readonly type: 'sluice:hello';
}

/** Worker -> primary: serving (the listeners are bound). */
export interface ServingMessage {
  readonly type: 'sluice:serving';
}

/**
 * Which backend a worker's report is about: the endpoint's name and its base URL (credentials
 * aside, `Endpoint.baseUrl`). A reload can point a name at another backend while the worker's
 * old endpoint still drains; the primary applies a report only to its endpoint of that name
 * and URL, so that what the old backend did never counts against the new one.
 */
export interface BackendRef {
  readonly endpoint: string;
  readonly url: string;
}

/** Worker -> primary: a request could not connect to the endpoint (refused, reset). */
export interface ConnectionFailedMessage extends BackendRef {
  readonly type: 'sluice:connection-failed';
  readonly error: string;
}

/** Worker -> primary: a request missed its latency deadline on the endpoint (no first token in time). */
export interface LatencyFailedMessage extends BackendRef {
  readonly type: 'sluice:latency-failed';
  readonly error: string;
}

/** One endpoint's request outcomes in an OutcomesMessage. */
export interface Outcomes extends BackendRef {
  readonly successes: number;
  readonly failures: number;
}

/** Worker -> primary: request outcomes per endpoint since the last such message (feeds the error ratio). */
export interface OutcomesMessage {
  readonly type: 'sluice:outcomes';
  readonly outcomes: readonly Outcomes[];
}

/** Worker -> primary: a scrape of /metrics; answer with the merge of every process. */
export interface MetricsRequestMessage {
  readonly type: 'sluice:metrics-request';
  readonly id: number;
  readonly openMetrics: boolean;
}

/** Worker -> primary: this worker's metrics for the merge `id`. */
export interface WorkerMetricsMessage {
  readonly type: 'sluice:worker-metrics';
  readonly id: number;
  /** prom-client `Registry.getMetricsAsJSON()`; typed loosely here, read by metrics-merge. */
  readonly metrics: unknown[];
}

export type ToPrimary = HelloMessage | ServingMessage | ConnectionFailedMessage | LatencyFailedMessage | OutcomesMessage | MetricsRequestMessage | WorkerMetricsMessage | ResponseOwnerMessage;

// The message types each side accepts, tied to the unions by the compiler: a type added to a union
// and not here, or named here and in no union, does not compile.
const TO_WORKER_TYPES: { readonly [T in ToWorker['type']]: true } = {
  'sluice:config': true,
  'sluice:fleet': true,
  'sluice:health': true,
  'sluice:models': true,
  'sluice:load': true,
  'sluice:response-owner': true,
  'sluice:response-owners': true,
  'sluice:collect-metrics': true,
  'sluice:merged-metrics': true,
  'sluice:cut': true,
};
const TO_PRIMARY_TYPES: { readonly [T in ToPrimary['type']]: true } = {
  'sluice:hello': true,
  'sluice:serving': true,
  'sluice:connection-failed': true,
  'sluice:latency-failed': true,
  'sluice:outcomes': true,
  'sluice:metrics-request': true,
  'sluice:worker-metrics': true,
  'sluice:response-owner': true,
};
const TO_WORKER = new Set<string>(Object.keys(TO_WORKER_TYPES));
const TO_PRIMARY = new Set<string>(Object.keys(TO_PRIMARY_TYPES));

function typeOf(message: unknown): string | undefined {
  return typeof message === 'object' && message !== null && typeof (message as { type?: unknown }).type === 'string' ? (message as { type: string }).type : undefined;
}

/** Whether an IPC message is one of Sluice's for a worker (prom-client and Node send others). */
export function isToWorker(message: unknown): message is ToWorker {
  return TO_WORKER.has(typeOf(message) ?? '');
}

export function isToPrimary(message: unknown): message is ToPrimary {
  return TO_PRIMARY.has(typeOf(message) ?? '');
}
