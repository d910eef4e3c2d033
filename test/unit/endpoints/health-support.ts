import { DEFAULT_HEALTH_POLICY, EndpointHealth, type HealthPolicy, type HealthState } from '../../../src/endpoints/health-state.js';

export type Transition = [HealthState, HealthState, string];

/** An EndpointHealth on a hand-driven clock, recording every transition it announces. */
export interface Harness {
  health: EndpointHealth;
  clock: { ms: number };
  transitions: Transition[];
  pass(latencyMs?: number): void;
  fail(error?: string): void;
}

export function harness(overrides: Partial<HealthPolicy> = {}): Harness {
  const clock = { ms: 1_000_000 };
  const transitions: Transition[] = [];
  const health = new EndpointHealth({ ...DEFAULT_HEALTH_POLICY, ...overrides }, () => clock.ms, (from, to, reason) => transitions.push([from, to, reason]));
  return {
    health,
    clock,
    transitions,
    pass: (latencyMs = 50) => health.recordCheck({ ok: true, latencyMs }),
    fail: (error = 'connect ECONNREFUSED') => health.recordCheck({ ok: false, latencyMs: 3, error }),
  };
}

export function requests(health: EndpointHealth, successes: number, failures: number): void {
  for (let index = 0; index < successes; index++) health.recordRequest('success');
  for (let index = 0; index < failures; index++) health.recordRequest('failure');
}

/** Healthy at full weight (no slow start after a first check), transitions cleared. */
export function healthyHarness(overrides: Partial<HealthPolicy> = {}): Harness {
  const h = harness(overrides);
  h.pass();
  h.transitions.length = 0;
  return h;
}

/** Unhealthy after a failed first check, transitions cleared. */
export function unhealthyHarness(overrides: Partial<HealthPolicy> = {}): Harness {
  const h = harness(overrides);
  h.fail();
  h.transitions.length = 0;
  return h;
}
