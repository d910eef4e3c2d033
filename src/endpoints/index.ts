export { CIRCUIT_STATES, CircuitBreaker, DEFAULT_FAILURE_THRESHOLD, DEFAULT_OPEN_DURATION_MS, type CircuitBreakerOptions, type CircuitState } from './breaker.js';
export {
  DEFAULT_HEALTH_POLICY,
  EndpointHealth,
  HEALTH_STATES,
  type CheckResult,
  type HealthPolicy,
  type HealthSnapshot,
  type HealthState,
  type HealthTransitionListener,
} from './health-state.js';
export { OutcomeWindow, type OutcomeCounts } from './outcome-window.js';
export { Endpoint, healthPolicyFrom, type EndpointListener, type PassiveSink } from './endpoint.js';
export { describeFetchError, joinUrl, JsonTooDeepError, parseJsonShallow, readTextCapped, readTextPrefix } from './endpoint-http.js';
