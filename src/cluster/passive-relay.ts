import type { Endpoint, PassiveSink } from '../endpoints/index.js';
import type { BackendRef, OutcomesMessage, ToPrimary } from './messages.js';

/** The backend an endpoint stands for, as reports name it (see BackendRef). */
function backendOf(endpoint: Endpoint): BackendRef {
  return { endpoint: endpoint.name, url: endpoint.baseUrl.href };
}

/**
 * A worker's passive sink: a connection or latency failure goes to the primary at once (the worker has
 * already stopped routing there); request outcomes are counted and sent every `flushMs`, so the
 * request path does not send a message per request. Every report names the endpoint's backend.
 */
export class PassiveRelay implements PassiveSink {
  readonly #send: (message: ToPrimary) => void;
  readonly #flushMs: number;
  /** By endpoint object: a retired endpoint draining under a name that now points elsewhere is counted apart. */
  #counts = new Map<Endpoint, { successes: number; failures: number }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(send: (message: ToPrimary) => void, flushMs: number) {
    this.#send = send;
    this.#flushMs = flushMs;
  }

  connectionFailed(endpoint: Endpoint, error: string): void {
    this.#send({ type: 'sluice:connection-failed', ...backendOf(endpoint), error });
  }

  latencyFailed(endpoint: Endpoint, error: string): void {
    this.#send({ type: 'sluice:latency-failed', ...backendOf(endpoint), error });
  }

  requestFinished(endpoint: Endpoint, outcome: 'success' | 'failure'): void {
    let counts = this.#counts.get(endpoint);
    if (!counts) this.#counts.set(endpoint, (counts = { successes: 0, failures: 0 }));
    if (outcome === 'success') counts.successes++;
    else counts.failures++;
    this.#timer ??= setTimeout(() => this.flush(), this.#flushMs).unref();
  }

  /** Sends the counts gathered so far (also called at shutdown). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#counts.size === 0) return;
    const message: OutcomesMessage = { type: 'sluice:outcomes', outcomes: [...this.#counts].map(([endpoint, counts]) => ({ ...backendOf(endpoint), ...counts })) };
    this.#counts = new Map();
    this.#send(message);
  }
}

/**
 * The primary's side of the relay: feeds what a worker saw to the primary's state machines. A
 * report about another backend than the one the name points at now is dropped: it comes from an
 * endpoint a reload retired (still draining in the worker, or sent before the worker reloaded).
 */
export function applyPassive(endpoint: (name: string) => Endpoint | undefined, message: Extract<ToPrimary, { type: 'sluice:connection-failed' | 'sluice:latency-failed' | 'sluice:outcomes' }>): void {
  const target = (ref: BackendRef): Endpoint | undefined => {
    const ep = endpoint(ref.endpoint);
    return ep?.baseUrl.href === ref.url ? ep : undefined;
  };
  if (message.type === 'sluice:connection-failed') {
    target(message)?.health.markConnectionFailure(message.error);
    return;
  }
  if (message.type === 'sluice:latency-failed') {
    target(message)?.health.recordLatencyFailure(message.error);
    return;
  }
  for (const outcomes of message.outcomes) {
    const ep = target(outcomes);
    if (!ep) continue;
    for (let i = 0; i < outcomes.successes; i++) ep.health.recordRequest('success');
    for (let i = 0; i < outcomes.failures; i++) ep.health.recordRequest('failure');
  }
}
