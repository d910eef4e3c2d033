export type CircuitState = 'closed' | 'open' | 'half_open';
export const CIRCUIT_STATES: readonly CircuitState[] = ['closed', 'open', 'half_open'];

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit (default 5). */
  failureThreshold: number;
  /** How long the circuit stays open before letting one trial request through (default 30000). */
  openDurationMs: number;
  now: () => number;
  onTransition?: (from: CircuitState, to: CircuitState, reason: string) => void;
}

export const DEFAULT_FAILURE_THRESHOLD = 5;
export const DEFAULT_OPEN_DURATION_MS = 30_000;

/**
 * Classic three-state circuit breaker over request outcomes. Knows nothing about endpoints or
 * HTTP: callers ask `tryAcquire()` before sending and report the outcome afterwards, saying
 * whether the request was the half-open trial.
 *
 * The open -> half_open change has no timer behind it: reading the state computes it from the
 * clock without changing anything; it is recorded (and announced) when a trial is let through.
 * Only the trial's own outcome closes or reopens a half-open circuit: a request that started
 * before the circuit opened may still finish while the trial is in flight, and says nothing
 * about the backend now.
 */
export class CircuitBreaker {
  #failureThreshold: number;
  #openDurationMs: number;
  readonly #now: () => number;
  readonly #onTransition: CircuitBreakerOptions['onTransition'];
  #state: CircuitState = 'closed';
  #openedAt = 0;
  #failures = 0;
  #trialInFlight = false;

  constructor(options: Partial<CircuitBreakerOptions> & Pick<CircuitBreakerOptions, 'now'>) {
    this.#failureThreshold = Math.max(1, options.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD);
    this.#openDurationMs = Math.max(0, options.openDurationMs ?? DEFAULT_OPEN_DURATION_MS);
    this.#now = options.now;
    this.#onTransition = options.onTransition;
  }

  /** New settings from a reload; the current state and failure count stay. */
  configure(settings: Pick<CircuitBreakerOptions, 'failureThreshold' | 'openDurationMs'>): void {
    this.#failureThreshold = Math.max(1, settings.failureThreshold);
    this.#openDurationMs = Math.max(0, settings.openDurationMs);
  }

  /** The current state; reading it has no side effects. */
  get state(): CircuitState {
    return this.#openPeriodOver() ? 'half_open' : this.#state;
  }

  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** Whether a request could be sent now; no side effects, for filtering candidates. */
  isAvailable(): boolean {
    const state = this.state;
    return state === 'closed' || (state === 'half_open' && !this.#trialInFlight);
  }

  /**
   * Claims the right to send one request. In half_open only one trial is let through until it
   * resolves; the caller knows it holds the trial when the state read just before was half_open.
   */
  tryAcquire(): boolean {
    if (this.#openPeriodOver()) {
      this.#trialInFlight = false;
      this.#moveTo('half_open', `open for ${this.#openDurationMs}ms`);
    }
    const state = this.#state;
    if (state === 'closed') return true;
    if (state === 'open' || this.#trialInFlight) return false;
    this.#trialInFlight = true;
    return true;
  }

  /** A request succeeded; `trial` says whether it was the half-open trial. */
  recordSuccess(trial: boolean): void {
    const state = this.state;
    if (state === 'closed') {
      this.#failures = 0;
      return;
    }
    // Open, or half-open with a request other than the trial: too old to say anything.
    if (state !== 'half_open' || !trial) return;
    this.#failures = 0;
    this.#trialInFlight = false;
    this.#moveTo('closed', 'trial request succeeded');
  }

  /** A request failed because of the backend; `trial` says whether it was the half-open trial. */
  recordFailure(trial: boolean): void {
    const state = this.state;
    if (state === 'closed') {
      this.#failures++;
      if (this.#failures >= this.#failureThreshold) this.#open(`${this.#failures} consecutive failure${this.#failures === 1 ? '' : 's'}`);
      return;
    }
    if (state !== 'half_open' || !trial) return; // late failures of older requests change nothing
    this.#failures++;
    this.#open('trial request failed');
  }

  /** The trial ended with no verdict (e.g. the client went away): let another trial through. */
  releaseTrial(): void {
    this.#trialInFlight = false;
  }

  reset(): void {
    this.#failures = 0;
    this.#trialInFlight = false;
    this.#moveTo('closed', 'reset');
  }

  #openPeriodOver(): boolean {
    return this.#state === 'open' && this.#now() - this.#openedAt >= this.#openDurationMs;
  }

  #open(reason: string): void {
    this.#openedAt = this.#now();
    this.#trialInFlight = false;
    this.#moveTo('open', reason);
  }

  #moveTo(to: CircuitState, reason: string): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#onTransition?.(from, to, reason);
  }
}
