import { MAX_TIMER_MS } from '../config/index.js';
import type { Endpoint } from '../endpoints/index.js';
import { nextCheckDelayMs, withJitter } from './backoff.js';
import type { ProbeResult, Prober } from './prober.js';

export interface HealthCheckerOptions {
  readonly prober: Prober;
  readonly now?: () => number;
  readonly random?: () => number;
  /** Called after every check, before the endpoint's state machine is fed (metrics, logs). */
  readonly onResult?: (endpoint: Endpoint, result: ProbeResult) => void;
  /** Called once a check's result is applied and the endpoint's next check is scheduled. */
  readonly onChecked?: (endpoint: Endpoint) => void;
}

/**
 * Active health checks: every endpoint on its own schedule (its check_interval with jitter,
 * backing off exponentially while it fails), never more than one check in flight per endpoint.
 */
export class HealthChecker {
  readonly #endpoints: readonly Endpoint[];
  readonly #opts: HealthCheckerOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #nextAt = new Map<string, number>();
  readonly #inFlight = new Map<Endpoint, Promise<void>>();
  /** Endpoints whose check in flight at stop() a successor took over (see start): still recorded. */
  readonly #handedOver = new Set<Endpoint>();
  #stopped = true;

  constructor(endpoints: readonly Endpoint[], opts: HealthCheckerOptions) {
    this.#endpoints = endpoints;
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#random = opts.random ?? Math.random;
  }

  /**
   * Checks every endpoint now, then keeps each on its own schedule. `previous`, the stopped
   * checker this one replaces (a reload): an endpoint it is still checking is not checked twice
   * at once; that check's result is recorded, and this one's schedule starts from it.
   */
  start(previous?: HealthChecker): void {
    this.#stopped = false;
    for (const ep of this.#endpoints) {
      const running = previous ? previous.#inFlight.get(ep) : undefined;
      if (!previous || !running) {
        void this.checkNow(ep);
        continue;
      }
      previous.#handedOver.add(ep);
      const p = running.finally(() => {
        this.#inFlight.delete(ep);
        this.#schedule(ep);
      });
      this.#inFlight.set(ep, p);
    }
  }

  /** No check starts any more; one in flight is recorded only if a successor took it over (an endpoint that left is not). */
  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }

  /** Milliseconds until the endpoint's next scheduled check (0 while one is running). */
  nextCheckInMs(endpoint: Endpoint): number {
    const at = this.#nextAt.get(endpoint.name);
    return at === undefined ? 0 : Math.max(0, at - this.#now());
  }

  /** Runs a check now unless one is already in flight (then it shares that one). */
  checkNow(endpoint: Endpoint): Promise<void> {
    const running = this.#inFlight.get(endpoint);
    if (running) return running;
    clearTimeout(this.#timers.get(endpoint.name));
    this.#nextAt.delete(endpoint.name);
    const p = this.#run(endpoint).finally(() => {
      this.#inFlight.delete(endpoint);
      this.#schedule(endpoint);
      if (this.#recording(endpoint)) this.#opts.onChecked?.(endpoint);
    });
    this.#inFlight.set(endpoint, p);
    return p;
  }

  async #run(endpoint: Endpoint): Promise<void> {
    const result = await this.#opts.prober(endpoint);
    // An endpoint that left while it was being checked: its series are gone, and stay gone.
    if (!this.#recording(endpoint)) return;
    this.#opts.onResult?.(endpoint, result);
    endpoint.health.recordCheck({ ok: result.ok, latencyMs: result.latencyMs, error: result.error });
  }

  #recording(endpoint: Endpoint): boolean {
    return !this.#stopped || this.#handedOver.has(endpoint);
  }

  #schedule(endpoint: Endpoint): void {
    if (this.#stopped) return;
    // Jitter may take an interval near the longest a timer can wait past it: Node would fire at once.
    const delay = Math.min(MAX_TIMER_MS, withJitter(nextCheckDelayMs(endpoint.config.check_interval, endpoint.health.consecutiveFailures), this.#random));
    this.#nextAt.set(endpoint.name, this.#now() + delay);
    const timer = setTimeout(() => void this.checkNow(endpoint), delay);
    timer.unref();
    this.#timers.set(endpoint.name, timer);
  }
}
