// Sluice exports endpoint health and breaker states as state sets (one series per state, 1 for
// the current one). State-timeline panels want one numeric series per endpoint instead, so
// these expressions fold a state set into a state code: each state's series is multiplied by
// its code and the maximum is kept (the current state's series is the only non-zero one).
import { sel, stateMappings } from './grafana.mjs';

export const HEALTH_STATES = [
  [0, 'unknown', 'text'],
  [1, 'healthy', 'green'],
  [2, 'degraded', 'yellow'],
  [3, 'recovering', 'blue'],
  [4, 'unhealthy', 'red'],
];

export const CIRCUIT_STATES = [
  [0, 'closed', 'green'],
  [1, 'half_open', 'orange'],
  [2, 'open', 'red'],
];

function foldStateSet(metric, states, by, matchers) {
  const terms = states.map(([code, state]) => `${sel(metric, ...matchers, `state="${state}"`)} * ${code}`);
  return `max by (${by.join(', ')}) (\n  ${terms.join('\n  or\n  ')}\n)`;
}

export function healthStateCode(by, ...matchers) {
  return foldStateSet('sluice_endpoint_state', HEALTH_STATES, by, matchers);
}

export function circuitStateCode(by, ...matchers) {
  return foldStateSet('sluice_endpoint_circuit_state', CIRCUIT_STATES, by, matchers);
}

export const healthStateMappings = () => stateMappings(HEALTH_STATES);
export const circuitStateMappings = () => stateMappings(CIRCUIT_STATES);
