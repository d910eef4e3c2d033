// The "Sluice overview" dashboard: traffic, errors, latency, tokens, endpoints and models.
import { annotation, bargauge, dashboard, heatmap, instantTable, quantileTargets, rate, row, sel, stat, stateTimeline, table, target, timeseries, variables } from './grafana.mjs';
import { circuitStateCode, circuitStateMappings, healthStateCode, healthStateMappings } from './states.mjs';

const TRAFFIC = ['endpoint=~"$endpoint"', 'model=~"$model"'];
const ENDPOINT = ['endpoint=~"$endpoint"'];
// Time to first token of streamed responses: one that is not streamed has its first token at the end of its body.
const STREAMED = 'stream="true"';
const ENDPOINT_DETAIL_LINK = [{ title: 'Endpoint detail: ${__field.labels.endpoint}', url: '/d/sluice-endpoint/sluice-endpoint-detail?${__url_time_range}&${datasource:queryparam}&${job:queryparam}&${instance:queryparam}&var-endpoint=${__field.labels.endpoint}' }];

// Alerts of the selected jobs and instances; objective (burn-rate) alerts are per job, without an instance.
const FIRING_ALERTS = 'ALERTS{alertstate="firing", alertname=~"Sluice.+", job=~"$job", instance=~"$instance"}\nor\nALERTS{alertstate="firing", alertname=~"Sluice.+", job=~"$job", instance=""}';

const requests = (...extra) => rate('sluice_requests_total', ...TRAFFIC, ...extra);
// 5xx ratio per group, 0 (not missing) while the group has traffic and no errors.
const errorRatio = (by) =>
  `(\n  sum by (${by}) (${requests('code=~"5.."')})\n  or\n  sum by (${by}) (${requests()}) * 0\n)\n/\nsum by (${by}) (${requests()})`;

function summary() {
  return [
    stat({
      title: 'Request rate',
      description: 'Client requests completed per second, all endpoints and models in the selection.',
      unit: 'reqps',
      targets: [target(`sum(${requests()})`, 'requests')],
    }),
    stat({
      title: 'Error ratio (5m)',
      description: 'Share of client requests answered with a 5xx status over the last 5 minutes, all endpoints and models in the selection (recording rule sluice:requests:rate5m). SluiceErrorBudgetBurn pages when this burns the 99.5% availability objective too fast.',
      unit: 'percentunit',
      decimals: 2,
      thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'orange', value: 0.01 }, { color: 'red', value: 0.05 }] },
      // By endpoint, model and code: the same selection as Request rate, 0 (not empty) while there are no errors.
      targets: [target(`(\n  sum(${sel('sluice:requests:rate5m', ...TRAFFIC, 'code=~"5.."')})\n  or\n  sum(${sel('sluice:requests:rate5m', ...TRAFFIC)}) * 0\n)\n/\nsum(${sel('sluice:requests:rate5m', ...TRAFFIC)})`, 'error ratio')],
    }),
    stat({
      title: 'Slowest p99 latency (5m)',
      description: 'Highest per-model p99 duration of the answers that were not streamed, over the last 5 minutes, of the requests of all selected replicas together: each model\'s quantile comes from the bucket rates summed over the replicas (recording rule sluice:unstreamed_request_duration_seconds_bucket:rate5m), not from the slowest replica. A stream lasts its whole generation: how soon streams start is in the time to first token panels. Every endpoint\'s requests, whatever the endpoint selection: the rule, which SluiceHighLatencyP99 reads too, keeps models, not endpoints. The alert fires above 40.96s.',
      unit: 's',
      thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'orange', value: 10 }, { color: 'red', value: 40.96 }] },
      targets: [target(`max(\n  histogram_quantile(0.99, sum by (model, le) (${sel('sluice:unstreamed_request_duration_seconds_bucket:rate5m', 'model=~"$model"')}))\n)`, 'p99')],
    }),
    stat({
      title: 'Routable endpoints',
      description: 'Endpoints that can take traffic now (healthy, degraded or recovering), each counted once however many Sluice replicas route to it. At 0, every request fails.',
      unit: 'none',
      graphMode: 'none',
      thresholds: { mode: 'absolute', steps: [{ color: 'red', value: null }, { color: 'green', value: 1 }] },
      targets: [target(`sum(max by (job, endpoint) (${sel('sluice_endpoint_up', ...ENDPOINT)}))`, 'routable')],
    }),
    stat({
      title: 'Output tokens per second',
      description: 'Tokens generated per second over the last 5 minutes, as reported by the backends (recording rule sluice:output_tokens:rate5m).',
      unit: 'suffix: tok/s',
      targets: [target(`sum(${sel('sluice:output_tokens:rate5m', 'model=~"$model"')})`, 'tokens/s')],
    }),
    stat({
      title: 'Firing alerts',
      description: 'Sluice alerts currently firing in Prometheus; see the table at the bottom.',
      unit: 'none',
      graphMode: 'none',
      colorMode: 'background',
      thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'red', value: 1 }] },
      targets: [target(`count(${FIRING_ALERTS}) or vector(0)`, 'firing')],
    }),
  ];
}

function traffic() {
  return [
    row('Traffic'),
    timeseries({
      title: 'Requests by model',
      description: 'Completed client requests per second, by requested model (unknown: not in the catalog; none: no model in the request).',
      unit: 'reqps',
      stack: true,
      targets: [target(`sum by (model) (${requests()})`, '{{model}}')],
    }),
    timeseries({
      title: 'Requests by endpoint',
      description: 'Completed client requests per second, by the endpoint that answered (none: no endpoint could answer).',
      unit: 'reqps',
      stack: true,
      links: ENDPOINT_DETAIL_LINK,
      targets: [target(`sum by (endpoint) (${requests()})`, '{{endpoint}}')],
    }),
    timeseries({
      title: 'Requests by status code',
      description: 'Completed client requests per second, by HTTP status returned to the client.',
      unit: 'reqps',
      stack: true,
      targets: [target(`sum by (code) (${requests()})`, '{{code}}')],
    }),
    timeseries({
      title: 'Error ratio by endpoint',
      description: 'Share of requests answered with a 5xx status, per answering endpoint. Retried failures that ended in success are not counted here; see Retries.',
      unit: 'percentunit',
      max: 1,
      targets: [target(errorRatio('endpoint'), '{{endpoint}}')],
    }),
  ];
}

function latency() {
  return [
    row('Latency'),
    timeseries({
      title: 'Request duration',
      description: 'p50, p95 and p99 of the whole request duration, streaming included. Exemplar dots link to the trace of one request.',
      unit: 's',
      targets: quantileTargets('sluice_request_duration_seconds', [], TRAFFIC),
    }),
    timeseries({
      title: 'Time to first token',
      description: 'p50, p95 and p99 of the time from request arrival to the first generated token of streamed responses (stream="true"): what a user waits for, backend queueing included. A response that is not streamed has its first token at the end of its body (stream="false"), the whole generation: Request duration shows those. SluiceTimeToFirstTokenBudgetBurn pages when more than 1% of streamed responses take over 5s. Exemplar dots link to traces.',
      unit: 's',
      targets: quantileTargets('sluice_time_to_first_token_seconds', [], [...TRAFFIC, STREAMED]),
    }),
    timeseries({
      title: 'p95 request duration by model',
      description: 'p95 of the whole request duration, per model.',
      unit: 's',
      targets: [target(quantileTargets('sluice_request_duration_seconds', ['model'], TRAFFIC)[1].expr, '{{model}}', { exemplar: true })],
    }),
    heatmap({
      title: 'Request duration distribution',
      description: 'Requests per second in each duration bucket over time. Exemplars link to traces.',
      unit: 'reqps',
      yUnit: 's',
      targets: [target(`sum by (le) (${rate('sluice_request_duration_seconds_bucket', ...TRAFFIC)})`, '{{le}}', { format: 'heatmap', exemplar: true })],
    }),
  ];
}

function tokens() {
  return [
    row('Tokens'),
    timeseries({
      title: 'Output tokens per second by model',
      description: 'Generated tokens per second, by model, from the usage the backends report.',
      unit: 'suffix: tok/s',
      stack: true,
      targets: [target(`sum by (model) (${rate('sluice_tokens_total', ...TRAFFIC, 'type="output"')})`, '{{model}}')],
    }),
    timeseries({
      title: 'Input tokens per second by model',
      description: 'Prompt tokens per second, by model, from the usage the backends report.',
      unit: 'suffix: tok/s',
      stack: true,
      targets: [target(`sum by (model) (${rate('sluice_tokens_total', ...TRAFFIC, 'type="input"')})`, '{{model}}')],
    }),
  ];
}

function endpoints() {
  return [
    row('Endpoints'),
    stateTimeline({
      title: 'Endpoint state',
      description: 'Health state of each endpoint over time: healthy and degraded take traffic, recovering takes a trickle, unhealthy none.',
      mappings: healthStateMappings(),
      links: ENDPOINT_DETAIL_LINK,
      targets: [target(healthStateCode(['endpoint'], ...ENDPOINT), '{{endpoint}}')],
    }),
    stateTimeline({
      title: 'Circuit breaker state',
      description: 'Circuit breaker of each endpoint: closed passes traffic, open rejects it, half-open lets probes through.',
      mappings: circuitStateMappings(),
      h: 6,
      targets: [target(circuitStateCode(['endpoint'], ...ENDPOINT), '{{endpoint}}')],
    }),
    timeseries({
      title: 'Active connections',
      description: 'Requests in flight to each endpoint.',
      unit: 'short',
      decimals: 0,
      targets: [target(`sum by (endpoint) (${sel('sluice_endpoint_active_connections', ...ENDPOINT)})`, '{{endpoint}}')],
    }),
    timeseries({
      title: 'Effective weight',
      description: 'Weight the balancer uses for each endpoint after slow start and degradation.',
      unit: 'short',
      targets: [target(`max by (endpoint) (${sel('sluice_endpoint_effective_weight', ...ENDPOINT)})`, '{{endpoint}}')],
    }),
    timeseries({
      title: 'Health-check latency (p95)',
      description: 'p95 latency of active health checks per endpoint. Above health.degraded_latency (1s by default) the endpoint is marked degraded.',
      unit: 's',
      targets: [target(quantileTargets('sluice_health_check_duration_seconds', ['endpoint'], ENDPOINT)[1].expr, '{{endpoint}}')],
    }),
    timeseries({
      title: 'Health checks by result',
      description: 'Active health checks per second by endpoint and result (success, failure, timeout).',
      unit: 'ops',
      targets: [target(`sum by (endpoint, result) (${rate('sluice_health_checks_total', ...ENDPOINT)})`, '{{endpoint}} {{result}}')],
    }),
    timeseries({
      title: 'Failures by reason',
      description: 'Failed upstream attempts per second, by endpoint and reason (connect_error, timeout, reset, protocol_error, http_5xx, http_429, stream_cut, first_token_timeout, stream_error).',
      unit: 'ops',
      stack: true,
      targets: [target(`sum by (endpoint, reason) (${rate('sluice_endpoint_failures_total', ...ENDPOINT)})`, '{{endpoint}} {{reason}}')],
    }),
    timeseries({
      title: 'Retries by reason',
      description: 'Attempts per second that failed over from an endpoint to another one, by reason.',
      unit: 'ops',
      stack: true,
      targets: [target(`sum by (endpoint, reason) (${rate('sluice_retries_total', ...ENDPOINT)})`, '{{endpoint}} {{reason}}')],
    }),
  ];
}

// How Sluice chose endpoints: the decisions' reasons, the prefix index of `prefix-aware`, and the
// freshness of the load the endpoints report (`load_source`), which `load-aware` and
// `prefix-aware` score on.
function routing() {
  return [
    row('Routing'),
    timeseries({
      title: 'Routing decisions by reason',
      description: 'Endpoints chosen per second, by why: strategy (round-robin, least-connections, random-two), sticky (a session key), load (load-aware scores), prefix_match (the endpoint believed to hold the prompt\'s prefix), prefix_hash (a new prefix, placed by hash), prefix_imbalance (the prefix\'s endpoint was too busy), prefix_fits (the recent prompts fit every endpoint\'s KV cache and the prefix\'s endpoint had more requests than the least loaded, so load chose) or stored_response (a Responses API follow-up, sent to the server that stores the response it names). Retries are decisions too.',
      unit: 'ops',
      stack: true,
      w: 8,
      targets: [target(`sum by (reason) (${rate('sluice_route_decisions_total', ...ENDPOINT)})`, '{{reason}}')],
    }),
    timeseries({
      title: 'Prefix-index hit ratio',
      description: 'Share of prefix-aware lookups that found an endpoint known to hold the prompt\'s first block, over all replicas\' lookups. Only prefix-aware routing looks up the index, and only for prompts of at least one block (balancing.prefix.block_chars): empty otherwise. Compare with the backends\' own prefix-cache hit ratio in Backend load.',
      unit: 'percentunit',
      max: 1,
      w: 8,
      targets: [target(`sum(${rate('sluice_prefix_index_lookups_total', 'result="hit"')})\n/\nsum(${rate('sluice_prefix_index_lookups_total')})`, 'hit ratio')],
    }),
    timeseries({
      title: 'Prefix-index size',
      description: 'Prompt block hashes in each replica\'s prefix index (each replica learns its own), up to balancing.prefix.index_size; older ones are forgotten first.',
      unit: 'short',
      decimals: 0,
      w: 8,
      targets: [target(`sum by (instance) (${sel('sluice_prefix_index_blocks')})`, '{{instance}}')],
    }),
    timeseries({
      title: 'Endpoints with stale load data',
      description: 'Per endpoint with a load_source, 1 while some replica\'s copy of the load it reports is stale (a failed read, or none within load.stale_after): routing then uses Sluice\'s own counts for it. SluiceFleetSaturated ignores such endpoints.',
      unit: 'none',
      max: 1,
      decimals: 0,
      links: ENDPOINT_DETAIL_LINK,
      targets: [target(`max by (endpoint) (${sel('sluice_endpoint_load_stale', ...ENDPOINT)})`, '{{endpoint}}')],
    }),
    timeseries({
      title: 'Load reads failed',
      description: 'Failed reads of the endpoints\' own load (their /metrics) per second, all replicas together, by endpoint and result (failure, timeout).',
      unit: 'ops',
      stack: true,
      targets: [target(`sum by (endpoint, result) (${rate('sluice_load_scrapes_total', ...ENDPOINT, 'result!="success"')})`, '{{endpoint}} {{result}}')],
    }),
    timeseries({
      title: 'Stored-response look-ups',
      description: 'Look-ups per second, all replicas together, of the endpoint that stores the response a Responses API follow-up names (previous_response_id, /v1/responses/{id}), by result: found (in the replica\'s own map), found_shared (in the replicas\' Redis, balancing.stored_responses.redis_url), unknown (routed as any request: a server that does not hold the response answers 404), error (Redis could not answer). Zero when no client continues stored responses.',
      unit: 'ops',
      stack: true,
      targets: [target(`sum by (result) (${rate('sluice_stored_response_lookups_total')})`, '{{result}}')],
    }),
  ];
}

// A backend's own metrics carry its scrape target as `instance`; Sluice's endpoint_info carries its
// URL. Matching the two names each backend series with its Sluice endpoint (and applies the
// job, instance and endpoint variables through the Sluice side).
// Aggregated over Sluice replicas before the relabelling: each replica exports the same info series.
const ENDPOINT_OF_BACKEND = `max by (instance, endpoint) (\n  label_replace(max by (url, endpoint) (${sel('sluice_endpoint_info', ...ENDPOINT)}), "instance", "$1", "url", "https?://([^/]+).*")\n)`;
const byEndpoint = (backendExpr) => `(\n  ${backendExpr}\n  * on (instance) group_left (endpoint)\n  ${ENDPOINT_OF_BACKEND}\n)`;
const BACKEND = 'model_name=~"$model"';
const BACKEND_SOURCE = 'From the model servers\' own vLLM metrics (vLLM, or the sample server with ENGINE=sim), scraped by Prometheus from each server and matched to Sluice endpoints by URL; empty for backends that do not export them.';

function backendLoad() {
  return [
    row('Backend load'),
    timeseries({
      title: 'Running requests by endpoint',
      description: `Requests each backend is generating for now (vllm:num_requests_running). ${BACKEND_SOURCE}`,
      unit: 'short',
      w: 8,
      targets: [target(`sum by (endpoint) ${byEndpoint(`vllm:num_requests_running{${BACKEND}}`)}`, '{{endpoint}}')],
    }),
    timeseries({
      title: 'Waiting requests by endpoint',
      description: `Requests queued inside each backend, not yet scheduled (vllm:num_requests_waiting): a growing queue means time to first token will grow. ${BACKEND_SOURCE}`,
      unit: 'short',
      w: 8,
      targets: [target(`sum by (endpoint) ${byEndpoint(`vllm:num_requests_waiting{${BACKEND}}`)}`, '{{endpoint}}')],
    }),
    timeseries({
      title: 'KV-cache usage by endpoint',
      description: `Share of each backend's KV cache in use (vllm:kv_cache_usage_perc); near 100% the backend preempts or queues requests. ${BACKEND_SOURCE}`,
      unit: 'percentunit',
      max: 1,
      w: 8,
      targets: [target(`max by (endpoint) ${byEndpoint(`vllm:kv_cache_usage_perc{${BACKEND}}`)}`, '{{endpoint}}')],
    }),
    timeseries({
      title: 'Prefix-cache hit ratio by endpoint',
      description: `Share of prompt tokens each backend found in its prefix cache (vllm:prefix_cache_hits_total over vllm:prefix_cache_queries_total). Sticky sessions raise it. ${BACKEND_SOURCE}`,
      unit: 'percentunit',
      max: 1,
      targets: [
        target(
          `sum by (endpoint) ${byEndpoint(`rate(vllm:prefix_cache_hits_total{${BACKEND}}[$__rate_interval])`)}\n/\nsum by (endpoint) ${byEndpoint(`rate(vllm:prefix_cache_queries_total{${BACKEND}}[$__rate_interval])`)}`,
          '{{endpoint}}',
        ),
      ],
    }),
    timeseries({
      title: 'Backend time to first token (p95)',
      description: `p95 time to first token as each backend measures it (vllm:time_to_first_token_seconds). Compared with Sluice's own time to first token, the difference is time spent before the backend saw the request. ${BACKEND_SOURCE}`,
      unit: 's',
      targets: [target(`histogram_quantile(0.95, sum by (endpoint, le) ${byEndpoint(`rate(vllm:time_to_first_token_seconds_bucket{${BACKEND}}[$__rate_interval])`)})`, '{{endpoint}}')],
    }),
  ];
}

function models() {
  return [
    row('Models and alerts'),
    bargauge({
      title: 'Endpoints serving each model',
      description: 'Routable endpoints serving each model Sluice has discovered. A model at 0 cannot be served (SluiceModelUnavailable).',
      unit: 'none',
      decimals: 0,
      min: 0,
      thresholds: { mode: 'absolute', steps: [{ color: 'red', value: null }, { color: 'orange', value: 1 }, { color: 'green', value: 2 }] },
      targets: [target(`max by (model) (${sel('sluice_models_available_endpoints', 'model=~"$model"')})`, '{{model}}', { range: false, instant: true })],
    }),
    table({
      title: 'Firing alerts',
      description: 'Sluice alerts firing in Prometheus now, with their labels. Empty when all is well.',
      unit: 'none',
      hide: ['Time', 'Value', '__name__', 'alertstate'],
      targets: [instantTable(FIRING_ALERTS)],
    }),
  ];
}

export function overview() {
  return dashboard({
    uid: 'sluice-overview',
    title: 'Sluice overview',
    description: 'Traffic, errors, latency, tokens and endpoint health of Sluice, the load balancer for model inference servers.',
    templating: variables(),
    annotations: [
      annotation(
        'Endpoint state changes',
        `sum by (endpoint, to) (increase(${sel('sluice_endpoint_state_transitions_total', ...ENDPOINT)}[$__rate_interval])) > 0`,
        '{{endpoint}} is now {{to}}',
        'orange',
      ),
    ],
    panels: [...summary(), ...traffic(), ...latency(), ...tokens(), ...endpoints(), ...routing(), ...backendLoad(), ...models(), ...sluiceProcess()],
  });
}

// Sluice's own processes only: the model servers export Node's process metrics under the same names.
const own = (expr) => `${expr} and on (job, instance) ${sel('sluice_build_info')}`;

function sluiceProcess() {
  return [
    row('Sluice process'),
    timeseries({
      title: 'Event-loop lag',
      description: 'p50 and p99 delay of Node.js event-loop turns in each Sluice process: above a few milliseconds, every proxied request and stream chunk waits that long.',
      unit: 's',
      w: 6,
      targets: [target(own(sel('nodejs_eventloop_lag_p99_seconds')), 'p99 {{instance}}'), target(own(sel('nodejs_eventloop_lag_p50_seconds')), 'p50 {{instance}}')],
    }),
    timeseries({
      title: 'CPU',
      description: 'CPU time used by each Sluice process per second (1 = one core). Sluice runs on one core per process: near 1 it is the bottleneck.',
      unit: 'percentunit',
      w: 6,
      targets: [target(`sum by (instance) (${own(rate('process_cpu_seconds_total'))})`, '{{instance}}')],
    }),
    timeseries({
      title: 'Memory',
      description: 'Resident memory (RSS) and used V8 heap of each Sluice process, and the request bodies it holds (outside the heap; past limits.max_body_total, per process, new ones are refused with 503).',
      unit: 'bytes',
      w: 6,
      targets: [
        target(`sum by (instance) (${own(sel('process_resident_memory_bytes'))})`, 'RSS {{instance}}'),
        target(`sum by (instance) (${own(sel('nodejs_heap_size_used_bytes'))})`, 'heap {{instance}}'),
        target(`sum by (instance) (${sel('sluice_request_bodies_held_bytes')})`, 'request bodies {{instance}}'),
      ],
    }),
    timeseries({
      title: 'Garbage collection',
      description: 'Share of time each Sluice process spends in garbage collection, by kind (minor, major, incremental, weakcb).',
      unit: 'percentunit',
      w: 6,
      stack: true,
      targets: [target(`sum by (instance, kind) (${own(rate('nodejs_gc_duration_seconds_sum'))})`, '{{kind}} {{instance}}')],
    }),
  ];
}
