import type { KeyDigest } from '../access/api-keys.js';
import type { ResponseOwner } from '../affinity/index.js';
import type { SluiceConfig } from '../config/index.js';
import type { Endpoint } from '../endpoints/index.js';
import type { Answers } from '../fleet/index.js';
import type { RenderedMetrics } from '../telemetry/index.js';
import { isToWorker, type ConfigMessage, type ToPrimary } from './messages.js';
import { PassiveRelay } from './passive-relay.js';
import { WORKER_SLOT_ENV } from './primary.js';
import { Replica } from './replica.js';
import type { ReplicaTarget, WorkerSide } from './side.js';

/** How often a worker sends its request outcomes to the primary. */
const OUTCOME_FLUSH_MS = 250;
/** How long a scrape of /metrics waits for the primary's merge. */
const MERGE_TIMEOUT_MS = 10_000;

/** A worker's link to its primary (over the IPC channel node:cluster set up). */
export class ClusterWorker implements WorkerSide {
  readonly role = 'worker';
  readonly slot: number;
  readonly answers: Answers;
  readonly passive: PassiveRelay;
  readonly #replica = new Replica();
  readonly #merges = new Map<number, (metrics: RenderedMetrics) => void>();
  /** The API keys the primary sent with each configuration (see ConfigMessage.apiKeys). */
  readonly #keys = new WeakMap<SluiceConfig, readonly KeyDigest[]>();
  #nextMerge = 0;
  #target: ReplicaTarget | undefined;
  #onCut: (() => void) | undefined;

  private constructor(slot: number, first: ConfigMessage) {
    this.slot = slot;
    this.answers = first.answers;
    this.passive = new PassiveRelay(send, OUTCOME_FLUSH_MS);
    this.#keep(first);
    process.on('message', (message: unknown) => {
      if (!isToWorker(message)) return;
      switch (message.type) {
        case 'sluice:collect-metrics': {
          // Always answered, so that a scrape never waits out the primary's timeout for this worker:
          // with nothing before it serves, and with nothing if rendering fails (a rejection here
          // would otherwise end the worker).
          const reply = (metrics: unknown[]) => send({ type: 'sluice:worker-metrics', id: message.id, metrics });
          if (!this.#target) reply([]);
          else this.#target.metricsJson().then(reply, () => reply([]));
          return;
        }
        case 'sluice:merged-metrics':
          this.#merges.get(message.id)?.({ contentType: message.contentType, body: message.body });
          this.#merges.delete(message.id);
          return;
        case 'sluice:cut':
          this.#onCut?.();
          return;
        default:
          if (message.type === 'sluice:config') this.#keep(message);
          this.#replica.apply(message);
      }
    });
  }

  /**
   * Says hello to the primary and resolves with the link, the configuration to start from, the
   * `server.*` settings to listen with and when the cluster started (see ConfigMessage).
   */
  static join(): Promise<{ worker: ClusterWorker; config: SluiceConfig; listen: SluiceConfig['server']; startedAt: number }> {
    const slot = Number(process.env[WORKER_SLOT_ENV] ?? 0);
    return new Promise((resolve) => {
      const first = (message: unknown): void => {
        if (!isToWorker(message) || message.type !== 'sluice:config') return;
        process.off('message', first);
        resolve({ worker: new ClusterWorker(slot, message), config: message.config, listen: message.listen ?? message.config.server, startedAt: message.startedAt ?? Date.now() });
      };
      process.on('message', first);
      send({ type: 'sluice:hello' });
    });
  }

  #keep(message: ConfigMessage): void {
    if (message.apiKeys) this.#keys.set(message.config, message.apiKeys);
  }

  keysFor(config: SluiceConfig): readonly KeyDigest[] | undefined {
    return this.#keys.get(config);
  }

  /** What to do when the primary says to cut what is left of a drain. */
  onCut(cut: () => void): void {
    this.#onCut = cut;
  }

  attach(target: ReplicaTarget): void {
    this.#target = target;
    this.#replica.attach(target);
  }

  nextCheckInMs(endpoint: Endpoint): number {
    return this.#replica.nextCheckInMs(endpoint);
  }

  renderMetrics(openMetrics: boolean): Promise<RenderedMetrics> {
    const id = this.#nextMerge++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#merges.delete(id);
        reject(new Error('the primary did not answer with the merged metrics'));
      }, MERGE_TIMEOUT_MS);
      this.#merges.set(id, (metrics) => {
        clearTimeout(timer);
        resolve(metrics);
      });
      send({ type: 'sluice:metrics-request', id, openMetrics });
    });
  }

  serving(): void {
    send({ type: 'sluice:serving' });
  }

  responseOwner(id: string, owner: ResponseOwner | undefined): void {
    send(owner ? { type: 'sluice:response-owner', id, owner } : { type: 'sluice:response-owner', id });
  }

  /**
   * Sends this worker's metrics as they are at its end (once it has drained), and resolves once
   * they are written: the primary keeps them as this slot's last report, so that what the worker
   * counted since the last scrape joins the dead workers' counts instead of being lost.
   */
  async finalReport(): Promise<void> {
    if (!this.#target || !process.connected) return;
    const metrics = await this.#target.metricsJson().catch(() => undefined);
    if (!metrics || !process.connected) return;
    await new Promise<void>((resolve) => process.send!({ type: 'sluice:worker-metrics', id: FINAL_REPORT, metrics } satisfies ToPrimary, undefined, {}, () => resolve()));
  }
}

/** The collection id of a worker's report at its end (no collection waits for it). */
const FINAL_REPORT = -1;

function send(message: ToPrimary): void {
  if (process.connected) process.send!(message, undefined, {}, () => undefined);
}
