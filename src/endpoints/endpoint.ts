import type { EndpointConfig, SluiceConfig } from '../config/index.js';
import { CircuitBreaker, type CircuitState } from './breaker.js';
import { DEFAULT_HEALTH_POLICY, EndpointHealth, type HealthPolicy, type HealthState } from './health-state.js';

export interface EndpointListener {
  stateChanged?(endpoint: Endpoint, from: HealthState, to: HealthState, reason: string): void;
  circuitChanged?(endpoint: Endpoint, from: CircuitState, to: CircuitState, reason: string): void;
  /**
   * Set when another process owns the health state machine (a cluster worker): the outcomes of
   * real requests go there instead of feeding this endpoint's own state machine.
   */
  readonly passive?: PassiveSink;
}

/** Where a cluster worker sends what its requests saw of an endpoint. */
export interface PassiveSink {
  connectionFailed(endpoint: Endpoint, error: string): void;
  latencyFailed(endpoint: Endpoint, error: string): void;
  requestFinished(endpoint: Endpoint, outcome: 'success' | 'failure'): void;
}

/** Health policy from the `health` config section. */
export function healthPolicyFrom(cfg: SluiceConfig): HealthPolicy {
  return {
    ...DEFAULT_HEALTH_POLICY,
    rise: cfg.health.rise,
    fall: cfg.health.fall,
    degradedLatencyMs: cfg.health.degraded_latency,
    degradedErrorRatio: cfg.health.degraded_error_ratio,
    slowStartMs: cfg.health.slow_start,
  };
}

function breakerSettingsFrom(cfg: SluiceConfig): { failureThreshold: number; openDurationMs: number } {
  return { failureThreshold: cfg.breaker.failure_threshold, openDurationMs: cfg.breaker.open_duration };
}

/** The endpoint URL without credentials. */
function endpointBaseUrl(raw: string): URL {
  const url = new URL(raw);
  url.username = '';
  url.password = '';
  return url;
}

/** Bearer token from the named environment variable, else Basic from the URL's credentials. */
function outboundAuthorization(config: EndpointConfig, env: NodeJS.ProcessEnv): string | undefined {
  const token = config.bearer_token_env ? env[config.bearer_token_env] : undefined;
  if (token) return `Bearer ${token}`;
  const url = new URL(config.url);
  return url.username ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}` : undefined;
}

/**
 * One backend at run time: its configuration, health state machine, circuit breaker, live
 * connection count and discovered models. Knows nothing of HTTP; the proxy and the health
 * checker feed it outcomes.
 */
export class Endpoint {
  readonly name: string;
  /** Base URL without credentials: the endpoint's identity, fixed for its lifetime. */
  readonly baseUrl: URL;
  /** The URL as shown in status, logs and metrics: never carries credentials. */
  readonly displayUrl: string;
  readonly health: EndpointHealth;
  readonly breaker: CircuitBreaker;
  activeConnections = 0;
  #config: EndpointConfig;
  #authorization: string | undefined;
  #models: ReadonlySet<string> = new Set();
  #modelsUpdatedAt: number | undefined;
  #cooldownUntil = 0;
  #retired = false;
  readonly #now: () => number;
  readonly #env: NodeJS.ProcessEnv;
  readonly #passive: PassiveSink | undefined;

  constructor(config: EndpointConfig, cfg: SluiceConfig, now: () => number, listener: EndpointListener = {}, env: NodeJS.ProcessEnv = process.env) {
    this.name = config.name;
    this.#config = config;
    this.#now = now;
    this.#env = env;
    this.#passive = listener.passive;
    this.baseUrl = endpointBaseUrl(config.url);
    this.displayUrl = this.baseUrl.href.replace(/\/$/, '');
    this.#authorization = outboundAuthorization(config, env);
    this.health = new EndpointHealth(healthPolicyFrom(cfg), now, (from, to, reason) => {
      // Back from unhealthy on the active checker's word: the failures that opened the breaker
      // were the outage itself, and slow start now protects the endpoint, so traffic may return.
      // Not when the checks never saw that outage (a request's connection failure took the
      // endpoint out and every check passed): a health path that answers while requests fail
      // would clear the breaker at every check, and it would never open.
      if (from === 'unhealthy' && this.health.routable && this.health.outageSeenByChecks) this.breaker.reset();
      listener.stateChanged?.(this, from, to, reason);
    });
    this.breaker = new CircuitBreaker({
      ...breakerSettingsFrom(cfg),
      now,
      onTransition: (from, to, reason) => listener.circuitChanged?.(this, from, to, reason),
    });
  }

  get config(): EndpointConfig {
    return this.#config;
  }

  /** Outbound Authorization header, from bearer_token_env or URL credentials. Never logged. */
  get authorization(): string | undefined {
    return this.#authorization;
  }

  /** Whether `config` still describes this backend (same name and URL, credentials aside), so it can be applied in place. */
  sameBackend(config: EndpointConfig): boolean {
    return config.name === this.name && endpointBaseUrl(config.url).href === this.baseUrl.href;
  }

  /**
   * Prepares a reloaded configuration, changing nothing yet: throws when it is another backend
   * (see sameBackend) or its credentials cannot be read. The returned function applies it in
   * place and cannot fail: weight, priority, limits, checks, credentials, health policy and
   * breaker settings change; health state, breaker state, models and the live connection count stay.
   */
  prepareReconfigure(config: EndpointConfig, cfg: SluiceConfig): () => void {
    if (!this.sameBackend(config)) throw new Error(`endpoint ${this.name}: ${config.url} is another backend; build a new endpoint`);
    const authorization = outboundAuthorization(config, this.#env);
    const policy = healthPolicyFrom(cfg);
    const breaker = breakerSettingsFrom(cfg);
    return () => {
      this.#config = config;
      this.#authorization = authorization;
      this.health.setPolicy(policy);
      this.breaker.configure(breaker);
    };
  }

  get state(): HealthState {
    return this.health.state;
  }

  /** Routable: in the fleet, healthy, degraded or recovering, breaker not open, and not cooling down after a 429. */
  get routable(): boolean {
    return !this.#retired && this.health.routable && this.breaker.isAvailable() && this.#now() >= this.#cooldownUntil;
  }

  /**
   * Takes the endpoint out of the fleet (a reload removed it, or its name now points elsewhere):
   * it finishes what it has and takes nothing new, a retry of a request that began before included.
   */
  retire(): void {
    this.#retired = true;
  }

  /** Why the endpoint is not routable now, or undefined when it is. */
  get unroutableReason(): 'retired' | 'unhealthy' | 'breaker_open' | 'cooling_down' | undefined {
    if (this.#retired) return 'retired';
    if (!this.health.routable) return 'unhealthy';
    if (!this.breaker.isAvailable()) return 'breaker_open';
    if (this.#now() < this.#cooldownUntil) return 'cooling_down';
    return undefined;
  }

  // The balancer's view of the endpoint (balancing's Candidate): weight is the effective weight.
  get weight(): number {
    return this.effectiveWeight;
  }

  get priority(): number {
    return this.config.priority;
  }

  get backup(): boolean {
    return this.config.backup;
  }

  get effectiveWeight(): number {
    return this.config.weight * this.health.weightFactor();
  }

  get atCapacity(): boolean {
    const cap = this.config.max_connections;
    return cap !== undefined && cap !== null && this.activeConnections >= cap;
  }

  get models(): ReadonlySet<string> {
    return this.#models;
  }

  get modelsUpdatedAt(): number | undefined {
    return this.#modelsUpdatedAt;
  }

  /**
   * Whether its models are known: a model listing of this endpoint has answered at least once
   * (in a cluster worker, the primary's has). Until then `models` is empty for want of an answer,
   * not because it serves nothing.
   */
  get modelsKnown(): boolean {
    return this.#modelsUpdatedAt !== undefined;
  }

  /** The models a listing answered (or, in a cluster worker, the primary's endpoint has). */
  setModels(models: Iterable<string>): void {
    this.#models = new Set(models);
    this.#modelsUpdatedAt = this.#now();
  }

  /**
   * A real request could not connect (refused, reset): this process stops routing to it at once;
   * in a cluster worker the primary is told too, and its verdict follows.
   */
  connectionFailed(error: string): void {
    this.health.markConnectionFailure(error);
    this.#passive?.connectionFailed(this, error);
  }

  /**
   * A real request missed its latency deadline (no first token in time): this process degrades
   * it at once; in a cluster worker the primary is told too, and its verdict follows.
   */
  latencyFailed(error: string): void {
    this.health.recordLatencyFailure(error);
    this.#passive?.latencyFailed(this, error);
  }

  /** Outcome of a real request: feeds the error ratio (the primary's, in a cluster worker). */
  requestFinished(outcome: 'success' | 'failure'): void {
    if (this.#passive) this.#passive.requestFinished(this, outcome);
    else this.health.recordRequest(outcome);
  }

  /** Keeps the endpoint out of rotation until the backend's Retry-After has passed (HTTP 429). */
  coolDown(ms: number): void {
    this.#cooldownUntil = Math.max(this.#cooldownUntil, this.#now() + ms);
  }

  get coolingDownForMs(): number {
    return Math.max(0, this.#cooldownUntil - this.#now());
  }
}
