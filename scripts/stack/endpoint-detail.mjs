// The "Sluice endpoint detail" dashboard: one endpoint, chosen by the `endpoint` variable.
import { dashboard, instantTable, quantileTargets, rate, row, sel, stat, stateTimeline, table, target, timeseries, variables } from './grafana.mjs';
import { circuitStateCode, circuitStateMappings, healthStateCode, healthStateMappings } from './states.mjs';

const ENDPOINT = ['endpoint=~"$endpoint"'];
const TRAFFIC = ['endpoint=~"$endpoint"', 'model=~"$model"'];
// Time to first token of streamed responses: one that is not streamed has its first token at the end of its body.
const STREAMED = 'stream="true"';

const endpointRequests = (...extra) => `sum(${rate('sluice_requests_total', ...TRAFFIC, ...extra)})`;
// Denominator: requests answered by any endpoint (requests no endpoint answered are nobody's share).
const allAnsweredRequests = `sum(${rate('sluice_requests_total', 'endpoint!="none"', 'model=~"$model"')})`;

function current() {
  return [
    stat({
      title: 'State',
      description: 'Current health state of the endpoint.',
      unit: 'none',
      graphMode: 'none',
      colorMode: 'background',
      mappings: healthStateMappings(),
      targets: [target(healthStateCode(['endpoint'], ...ENDPOINT), '{{endpoint}}')],
    }),
    stat({
      title: 'Circuit breaker',
      description: 'Current circuit breaker state of the endpoint.',
      unit: 'none',
      graphMode: 'none',
      colorMode: 'background',
      mappings: circuitStateMappings(),
      targets: [target(circuitStateCode(['endpoint'], ...ENDPOINT), '{{endpoint}}')],
    }),
    stat({
      title: 'Traffic share',
      description: 'Share of the requests answered by any endpoint that this endpoint answered.',
      unit: 'percentunit',
      decimals: 1,
      targets: [target(`${endpointRequests()}\n/\n${allAnsweredRequests}`, 'share')],
    }),
    stat({
      title: 'Active connections',
      description: 'Requests in flight to the endpoint now.',
      unit: 'short',
      decimals: 0,
      targets: [target(`sum(${sel('sluice_endpoint_active_connections', ...ENDPOINT)})`, 'in flight')],
    }),
    stat({
      title: 'Effective weight',
      description: 'Weight the balancer uses now, after slow start and degradation.',
      unit: 'short',
      targets: [target(`max(${sel('sluice_endpoint_effective_weight', ...ENDPOINT)})`, 'weight')],
    }),
    stat({
      title: 'Consecutive failed checks',
      description: 'Health checks failed in a row; health.fall of them make the endpoint unhealthy.',
      unit: 'none',
      thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'orange', value: 1 }, { color: 'red', value: 3 }] },
      targets: [target(`max(${sel('sluice_endpoint_consecutive_failures', ...ENDPOINT)})`, 'failures')],
    }),
  ];
}

function health() {
  return [
    row('Health'),
    stateTimeline({
      title: 'State history',
      description: 'Health state of the endpoint over time.',
      h: 5,
      mappings: healthStateMappings(),
      targets: [target(healthStateCode(['endpoint'], ...ENDPOINT), '{{endpoint}}')],
    }),
    stateTimeline({
      title: 'Circuit breaker history',
      description: 'Circuit breaker state of the endpoint over time.',
      h: 5,
      mappings: circuitStateMappings(),
      targets: [target(circuitStateCode(['endpoint'], ...ENDPOINT), '{{endpoint}}')],
    }),
    timeseries({
      title: 'Health-check latency',
      description: 'p50, p95 and p99 latency of active health checks.',
      unit: 's',
      targets: quantileTargets('sluice_health_check_duration_seconds', [], ENDPOINT).map(({ exemplar, ...t }) => t),
    }),
    timeseries({
      title: 'Health checks by result',
      description: 'Active health checks per second by result (success, failure, timeout).',
      unit: 'ops',
      stack: true,
      targets: [target(`sum by (result) (${rate('sluice_health_checks_total', ...ENDPOINT)})`, '{{result}}')],
    }),
  ];
}

function traffic() {
  return [
    row('Traffic'),
    timeseries({
      title: 'Traffic share over time',
      description: 'Share of the requests answered by any endpoint that this endpoint answered.',
      unit: 'percentunit',
      max: 1,
      targets: [target(`${endpointRequests()}\n/\n${allAnsweredRequests}`, 'share')],
    }),
    timeseries({
      title: 'Requests by status code',
      description: 'Requests answered by the endpoint per second, by HTTP status.',
      unit: 'reqps',
      stack: true,
      targets: [target(`sum by (code) (${rate('sluice_requests_total', ...TRAFFIC)})`, '{{code}}')],
    }),
    timeseries({
      title: 'Request duration',
      description: 'p50, p95 and p99 of the request duration at this endpoint. Exemplar dots link to traces.',
      unit: 's',
      targets: quantileTargets('sluice_request_duration_seconds', [], TRAFFIC),
    }),
    timeseries({
      title: 'Time to first token',
      description: 'p50, p95 and p99 of the time to the first generated token of streamed responses from this endpoint (stream="true"), its queueing included. A response that is not streamed has its first token at the end of its body (stream="false"), the whole generation: Request duration shows those. SluiceSlowTimeToFirstToken fires above 5s at p95. Exemplar dots link to traces.',
      unit: 's',
      targets: quantileTargets('sluice_time_to_first_token_seconds', [], [...TRAFFIC, STREAMED]),
    }),
    timeseries({
      title: 'Time to first byte',
      description: 'p50, p95 and p99 of the time to this endpoint\'s response headers: connection and queueing before the headers. A streamed answer sends its headers before any token, so this is not what a user waits for; see Time to first token. Exemplar dots link to traces.',
      unit: 's',
      targets: quantileTargets('sluice_time_to_first_byte_seconds', [], TRAFFIC),
    }),
    timeseries({
      title: 'Failures by reason',
      description: 'Failed attempts at this endpoint per second, by reason.',
      unit: 'ops',
      stack: true,
      targets: [target(`sum by (reason) (${rate('sluice_endpoint_failures_total', ...ENDPOINT)})`, '{{reason}}')],
    }),
    timeseries({
      title: 'Retries by reason',
      description: 'Attempts at this endpoint per second that failed over to another endpoint, by reason.',
      unit: 'ops',
      stack: true,
      targets: [target(`sum by (reason) (${rate('sluice_retries_total', ...ENDPOINT)})`, '{{reason}}')],
    }),
  ];
}

function models() {
  return [
    row('Models'),
    timeseries({
      title: 'Requests by model',
      description: 'Requests answered by the endpoint per second, by model.',
      unit: 'reqps',
      stack: true,
      targets: [target(`sum by (model) (${rate('sluice_requests_total', ...TRAFFIC)})`, '{{model}}')],
    }),
    timeseries({
      title: 'Output tokens per second by model',
      description: 'Tokens generated by the endpoint per second, by model.',
      unit: 'suffix: tok/s',
      stack: true,
      targets: [target(`sum by (model) (${rate('sluice_tokens_total', ...TRAFFIC, 'type="output"')})`, '{{model}}')],
    }),
    table({
      title: 'Models served in the time range',
      description: 'Requests the endpoint answered for each model over the selected time range.',
      unit: 'short',
      hide: ['Time'],
      rename: { Value: 'requests' },
      targets: [instantTable(`sum by (model) (increase(${sel('sluice_requests_total', ...TRAFFIC)}[$__range]))`)],
    }),
    table({
      title: 'Configuration',
      description: 'The endpoint as configured: URL (credentials removed), backend type and priority.',
      unit: 'none',
      hide: ['Time', 'Value', '__name__', 'job'],
      targets: [instantTable(sel('sluice_endpoint_info', ...ENDPOINT))],
    }),
  ];
}

export function endpointDetail() {
  return dashboard({
    uid: 'sluice-endpoint',
    title: 'Sluice endpoint detail',
    description: 'One Sluice endpoint in detail: health and breaker history, check latency, traffic share, failures and models.',
    templating: variables({ endpointSingle: true }),
    panels: [...current(), ...health(), ...traffic(), ...models()],
  });
}
