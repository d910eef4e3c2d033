import { OutcomeWindow } from './outcome-window.js';

export type HealthState = 'unknown' | 'healthy' | 'degraded' | 'recovering' | 'unhealthy';

export const HEALTH_STATES: readonly HealthState[] = ['unknown', 'healthy', 'degraded', 'recovering', 'unhealthy'];

export interface HealthPolicy {
  /** Consecutive passing checks that bring an unhealthy endpoint back (counting the one that started recovery). */
  rise: number;
  /** Consecutive failed checks that make a healthy or degraded endpoint unhealthy. */
  fall: number;
  /** A passing check slower than this marks the endpoint degraded. */
  degradedLatencyMs: number;
  /** A request error ratio above this (over errorWindowMs) marks the endpoint degraded. */
  degradedErrorRatio: number;
  /** The window over which request outcomes count for the error ratio. */
  errorWindowMs: number;
  /** Fewer requests than this in the window never make an endpoint degraded. */
  minRequestsForRatio: number;
  /** How long a recovered endpoint's weight ramps up after it leaves unhealthy. */
  slowStartMs: number;
  /** Share of its weight a degraded endpoint keeps. */
  degradedWeightFactor: number;
}

export const DEFAULT_HEALTH_POLICY: Readonly<HealthPolicy> = Object.freeze({
  rise: 2,
  fall: 3,
  degradedLatencyMs: 1000,
  degradedErrorRatio: 0.5,
  errorWindowMs: 60_000,
  minRequestsForRatio: 10,
  slowStartMs: 30_000,
  degradedWeightFactor: 0.25,
});

export interface CheckResult {
  ok: boolean;
  latencyMs: number;
  error?: string;
}

/**
 * Everything the state machine knows of an endpoint's health except the request window: what a
 * cluster primary sends its workers so that their copies route and report as it decides.
 */
export interface HealthSnapshot {
  readonly state: HealthState;
  /** Why the endpoint is in its state (the reason of the last transition). */
  readonly reason: string;
  readonly consecutiveFailures: number;
  readonly consecutivePasses: number;
  readonly lastError: string | undefined;
  readonly checksTotal: number;
  readonly checksPassed: number;
  readonly lastCheckAt: number | undefined;
  readonly lastLatencyMs: number | undefined;
  readonly slowStartFrom: number | undefined;
  /** See EndpointHealth.outageSeenByChecks (absent from an older primary: taken as true). */
  readonly outageSeenByChecks?: boolean;
}

export type HealthTransitionListener = (from: HealthState, to: HealthState, reason: string) => void;

/** Weight share at the very start of slow start, so a recovering endpoint still gets some traffic. */
const SLOW_START_MIN_FACTOR = 0.1;

const ROUTABLE: ReadonlySet<HealthState> = new Set<HealthState>(['healthy', 'degraded', 'recovering']);

/**
 * One endpoint's health state machine, fed by active checks and by the outcomes of real
 * requests:
 *
 *   unknown --pass--> healthy | degraded        unknown --fail--> unhealthy
 *   healthy <--> degraded   (slow check, slow request in the error window, or request error ratio over the limit)
 *   healthy | degraded --fall failed checks, or a refused/reset connection--> unhealthy
 *   unhealthy --pass--> recovering --rise passes--> healthy | degraded
 *   recovering --failed check or connection failure--> unhealthy
 *
 * Leaving unhealthy starts a slow start: the weight factor ramps linearly to full over
 * slowStartMs so a backend that just came back is not flooded.
 */
export class EndpointHealth {
  #policy: HealthPolicy;
  readonly #now: () => number;
  readonly #onTransition: HealthTransitionListener | undefined;
  #requests: OutcomeWindow;
  #state: HealthState = 'unknown';
  #reason = 'not checked yet';
  #consecutiveFailures = 0;
  #consecutivePasses = 0;
  #lastError: string | undefined;
  #checksTotal = 0;
  #checksPassed = 0;
  #lastCheckAt: number | undefined;
  #lastLatencyMs: number | undefined;
  #slowStartFrom: number | undefined;
  /** The latest latency failure of a real request and when it happened. */
  #slowRequest: { at: number; detail: string } | undefined;
  /** Whether a check has failed since the endpoint last became unhealthy (or made it so). */
  #outageSeenByChecks = true;

  constructor(policy: HealthPolicy, now: () => number, onTransition?: HealthTransitionListener) {
    this.#policy = normalised(policy);
    this.#now = now;
    this.#onTransition = onTransition;
    this.#requests = new OutcomeWindow(policy.errorWindowMs, now);
  }

  /**
   * A new policy from a reload. The state, counters and slow start stay; the new thresholds
   * apply from the next check or request (a state is never changed by the reload itself).
   */
  setPolicy(policy: HealthPolicy): void {
    if (policy.errorWindowMs !== this.#policy.errorWindowMs) this.#requests = new OutcomeWindow(policy.errorWindowMs, this.#now);
    this.#policy = normalised(policy);
  }

  get policy(): Readonly<HealthPolicy> {
    return this.#policy;
  }

  get state(): HealthState {
    return this.#state;
  }

  get routable(): boolean {
    return ROUTABLE.has(this.#state);
  }

  /** Failed active checks in a row (drives the check backoff). */
  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  get consecutivePasses(): number {
    return this.#consecutivePasses;
  }

  /** The most recent failure seen, from a check or a connection; kept after recovery for diagnosis. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  get checksTotal(): number {
    return this.#checksTotal;
  }

  get checksPassed(): number {
    return this.#checksPassed;
  }

  get lastCheckAt(): number | undefined {
    return this.#lastCheckAt;
  }

  get lastLatencyMs(): number | undefined {
    return this.#lastLatencyMs;
  }

  /**
   * Whether the active checks saw the endpoint's latest outage: it became unhealthy on failed
   * checks, or a check failed while it was. False when only a real request's connection failure
   * took it out and every check since has passed: a passing check then says nothing the checks
   * had not said all along (a health path that answers while requests fail), so leaving
   * unhealthy does not clear what the requests taught the breaker.
   */
  get outageSeenByChecks(): boolean {
    return this.#outageSeenByChecks;
  }

  /** Request error ratio over the window, or undefined while there are too few requests to judge. */
  errorRatio(): number | undefined {
    const { successes, failures } = this.#requests.counts();
    const total = successes + failures;
    if (total === 0 || total < this.#policy.minRequestsForRatio) return undefined;
    return failures / total;
  }

  snapshot(): HealthSnapshot {
    return {
      state: this.#state,
      reason: this.#reason,
      consecutiveFailures: this.#consecutiveFailures,
      consecutivePasses: this.#consecutivePasses,
      lastError: this.#lastError,
      checksTotal: this.#checksTotal,
      checksPassed: this.#checksPassed,
      lastCheckAt: this.#lastCheckAt,
      lastLatencyMs: this.#lastLatencyMs,
      slowStartFrom: this.#slowStartFrom,
      outageSeenByChecks: this.#outageSeenByChecks,
    };
  }

  /**
   * Takes over another state machine's verdict (a cluster worker following its primary): every
   * field is replaced, and a change of state is announced with the primary's reason.
   */
  adopt(snapshot: HealthSnapshot): void {
    this.#consecutiveFailures = snapshot.consecutiveFailures;
    this.#consecutivePasses = snapshot.consecutivePasses;
    this.#lastError = snapshot.lastError;
    this.#checksTotal = snapshot.checksTotal;
    this.#checksPassed = snapshot.checksPassed;
    this.#lastCheckAt = snapshot.lastCheckAt;
    this.#lastLatencyMs = snapshot.lastLatencyMs;
    this.#slowStartFrom = snapshot.slowStartFrom;
    this.#outageSeenByChecks = snapshot.outageSeenByChecks ?? true;
    this.#moveTo(snapshot.state, snapshot.reason);
    this.#reason = snapshot.reason;
  }

  recordCheck(result: CheckResult): void {
    this.#checksTotal++;
    this.#lastCheckAt = this.#now();
    this.#lastLatencyMs = result.latencyMs;
    if (result.ok) this.#checkPassed(result.latencyMs);
    else this.#checkFailed(result.error ?? 'check failed');
  }

  /** Outcome of a real request routed to this endpoint; only feeds the error ratio. */
  recordRequest(outcome: 'success' | 'failure'): void {
    this.#requests.record(outcome);
    // Only checks clear degraded; requests can only push a healthy endpoint down.
    if (this.#state !== 'healthy') return;
    const reason = this.#errorRatioReason();
    if (reason) this.#moveTo('degraded', reason);
  }

  /**
   * A real request was far too slow (a streamed request whose first token missed its deadline):
   * a latency failure, as a slow check is. A healthy endpoint is degraded at once, and checks
   * keep it degraded until errorWindowMs has passed without another one, as an outlier is
   * ejected for a while rather than until its next probe. Feeds nothing else; the caller also
   * records the request's outcome.
   */
  recordLatencyFailure(detail: string): void {
    this.#slowRequest = { at: this.#now(), detail };
    if (this.#state === 'healthy') this.#moveTo('degraded', `slow request: ${detail}`);
  }

  /** A real request could not connect (refused, reset): stop routing at once, without waiting for checks. */
  markConnectionFailure(error: string): void {
    this.#lastError = error;
    this.#consecutivePasses = 0;
    if (this.#state === 'unhealthy') return;
    this.#outageSeenByChecks = false;
    this.#moveTo('unhealthy', `connection failed: ${error}`);
  }

  /**
   * Share of its configured weight the endpoint gets, in (0, 1] while routable: reduced when
   * degraded, ramped during slow start (both multiply), 0 when not routable.
   */
  weightFactor(): number {
    if (!this.routable) return 0;
    const degraded = this.#state === 'degraded' ? this.#policy.degradedWeightFactor : 1;
    return degraded * this.#slowStartFactor();
  }

  #slowStartFactor(): number {
    if (this.#slowStartFrom === undefined) return 1;
    const elapsed = this.#now() - this.#slowStartFrom;
    if (elapsed >= this.#policy.slowStartMs) return 1;
    return Math.max(SLOW_START_MIN_FACTOR, elapsed / this.#policy.slowStartMs);
  }

  #checkPassed(latencyMs: number): void {
    this.#checksPassed++;
    this.#consecutivePasses++;
    this.#consecutiveFailures = 0;
    const { rise } = this.#policy;
    switch (this.#state) {
      case 'unknown':
        this.#moveTo(...this.#servingVerdict(latencyMs, 'check passed'));
        return;
      case 'unhealthy':
        this.#slowStartFrom = this.#now();
        // The requests that failed while it was down are the outage's: counted, they would keep
        // a recovered endpoint degraded for a whole error window (as the breaker is reset too).
        this.#requests = new OutcomeWindow(this.#policy.errorWindowMs, this.#now);
        this.#slowRequest = undefined;
        if (this.#consecutivePasses >= rise) this.#moveTo(...this.#servingVerdict(latencyMs, this.#passesReason()));
        else this.#moveTo('recovering', 'check passed');
        return;
      case 'recovering':
        if (this.#consecutivePasses >= rise) this.#moveTo(...this.#servingVerdict(latencyMs, this.#passesReason()));
        return;
      case 'healthy':
      case 'degraded':
        this.#moveTo(...this.#servingVerdict(latencyMs, 'check passed'));
        return;
    }
  }

  #checkFailed(error: string): void {
    this.#consecutiveFailures++;
    this.#consecutivePasses = 0;
    this.#lastError = error;
    // Failing, or about to be unhealthy for it: either way the checks see this outage.
    if (this.#state === 'unhealthy' || this.#state === 'unknown' || this.#state === 'recovering' || this.#consecutiveFailures >= this.#policy.fall) this.#outageSeenByChecks = true;
    switch (this.#state) {
      case 'unknown':
      case 'recovering':
        this.#moveTo('unhealthy', `check failed: ${error}`);
        return;
      case 'healthy':
      case 'degraded':
        if (this.#consecutiveFailures >= this.#policy.fall) {
          const failures = this.#consecutiveFailures;
          this.#moveTo('unhealthy', `${failures} consecutive failed check${failures === 1 ? '' : 's'}: ${error}`);
        }
        return;
      case 'unhealthy':
        return;
    }
  }

  /** Healthy or degraded after a passing check, with the reason for whichever it is. */
  #servingVerdict(latencyMs: number, passReason: string): [HealthState, string] {
    const { degradedLatencyMs } = this.#policy;
    if (latencyMs > degradedLatencyMs) {
      return ['degraded', `${prefix(passReason)}check latency ${Math.round(latencyMs)}ms over ${degradedLatencyMs}ms`];
    }
    const slowReason = this.#slowRequestReason();
    if (slowReason) return ['degraded', `${prefix(passReason)}${slowReason}`];
    const ratioReason = this.#errorRatioReason();
    if (ratioReason) return ['degraded', `${prefix(passReason)}${ratioReason}`];
    if (this.#state === 'degraded') return ['healthy', `check latency ${Math.round(latencyMs)}ms and error ratio within limits`];
    return ['healthy', passReason];
  }

  #passesReason(): string {
    const passes = this.#consecutivePasses;
    return `${passes} consecutive pass${passes === 1 ? '' : 'es'}`;
  }

  #slowRequestReason(): string | undefined {
    const slow = this.#slowRequest;
    if (!slow) return undefined;
    const ago = this.#now() - slow.at;
    if (ago >= this.#policy.errorWindowMs) return undefined;
    return `slow request ${Math.round(ago / 1000)}s ago: ${slow.detail}`;
  }

  #errorRatioReason(): string | undefined {
    const ratio = this.errorRatio();
    const limit = this.#policy.degradedErrorRatio;
    if (ratio === undefined || ratio <= limit) return undefined;
    return `error ratio ${ratio.toFixed(2)} over ${limit.toFixed(2)}`;
  }

  #moveTo(to: HealthState, reason: string): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#reason = reason;
    this.#onTransition?.(from, to, reason);
  }
}

function normalised(policy: HealthPolicy): HealthPolicy {
  return { ...policy, rise: Math.max(1, policy.rise), fall: Math.max(1, policy.fall) };
}

/** Reasons that only restate a plain pass are dropped when a degradation reason follows. */
function prefix(passReason: string): string {
  return passReason === 'check passed' ? '' : `${passReason}; `;
}
