import type { Endpoint, PassiveSink } from '../endpoints/index.js';
import type { OutcomesMessage, ToPrimary } from './messages.js';

/**
 * A worker's passive sink: a connection or latency failure goes to the primary at once (the worker has
 * already stopped routing there); request outcomes are counted and sent every `flushMs`, so the
 * request path does not send a message per request.
 */
export class PassiveRelay implements PassiveSink {
  readonly #send: (message: ToPrimary) => void;
  readonly #flushMs: number;
  #counts = new Map<string, { successes: number; failures: number }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(send: (message: ToPrimary) => void, flushMs: number) {
    this.#send = send;
    this.#flushMs = flushMs;
  }

  connectionFailed(endpoint: Endpoint, error: string): void {
    this.#send({ type: 'sluice:connection-failed', endpoint: endpoint.name, error });
  }

  latencyFailed(endpoint: Endpoint, error: string): void {
    this.#send({ type: 'sluice:latency-failed', endpoint: endpoint.name, error });
  }

  requestFinished(endpoint: Endpoint, outcome: 'success' | 'failure'): void {
    let counts = this.#counts.get(endpoint.name);
    if (!counts) this.#counts.set(endpoint.name, (counts = { successes: 0, failures: 0 }));
    if (outcome === 'success') counts.successes++;
    else counts.failures++;
    this.#timer ??= setTimeout(() => this.flush(), this.#flushMs).unref();
  }

  /** Sends the counts gathered so far (also called at shutdown). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#counts.size === 0) return;
    const message: OutcomesMessage = { type: 'sluice:outcomes', outcomes: this.#counts };
    this.#counts = new Map();
    this.#send(message);
  }
}

/** The primary's side of the relay: feeds what a worker saw to the primary's state machines. */
export function applyPassive(endpoint: (name: string) => Endpoint | undefined, message: Extract<ToPrimary, { type: 'sluice:connection-failed' | 'sluice:latency-failed' | 'sluice:outcomes' }>): void {
  if (message.type === 'sluice:connection-failed') {
    endpoint(message.endpoint)?.health.markConnectionFailure(message.error);
    return;
  }
  if (message.type === 'sluice:latency-failed') {
    endpoint(message.endpoint)?.health.recordLatencyFailure(message.error);
    return;
  }
  for (const [name, { successes, failures }] of message.outcomes) {
    const ep = endpoint(name);
    if (!ep) continue;
    for (let i = 0; i < successes; i++) ep.health.recordRequest('success');
    for (let i = 0; i < failures; i++) ep.health.recordRequest('failure');
  }
}
