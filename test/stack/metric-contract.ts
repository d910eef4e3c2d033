import { OWNER_LOOKUPS } from '../../src/affinity/directory.js';
import { ROUTE_REASONS } from '../../src/balancing/decision.js';
import { FAILURE_REASONS } from '../../src/telemetry/failure-reasons.js';
import { STREAM_LABELS } from '../../src/telemetry/metrics.js';

/**
 * The metrics Sluice exports: the contract that dashboards, alert rules and their tests rely
 * on. Keep it the single list of names, types, label names and closed label-value sets.
 * Prometheus adds `job` and `instance` to every series when it scrapes.
 */
export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricContract {
  /** Family name as it appears in the text exposition format (counters end in `_total`). */
  readonly name: string;
  readonly type: MetricType;
  /** Label names, `le` of histogram buckets excluded. */
  readonly labels: readonly string[];
  /** Labels whose values form a closed set. */
  readonly values?: Readonly<Record<string, readonly string[]>>;
  readonly buckets?: readonly number[];
  /** Series exist only when the configuration has this: endpoints with a load source, or rate limits. */
  readonly requires?: 'load_source' | 'rate_limits';
}

export const HEALTH_STATES = ['unknown', 'healthy', 'degraded', 'recovering', 'unhealthy'] as const;
export const CIRCUIT_STATES = ['closed', 'open', 'half_open'] as const;
export { FAILURE_REASONS, ROUTE_REASONS, STREAM_LABELS };

export const SLUICE_METRICS: readonly MetricContract[] = [
  { name: 'sluice_endpoint_info', type: 'gauge', labels: ['endpoint', 'url', 'type', 'priority'] },
  { name: 'sluice_endpoint_state', type: 'gauge', labels: ['endpoint', 'state'], values: { state: HEALTH_STATES } },
  { name: 'sluice_endpoint_up', type: 'gauge', labels: ['endpoint'] },
  { name: 'sluice_endpoint_circuit_state', type: 'gauge', labels: ['endpoint', 'state'], values: { state: CIRCUIT_STATES } },
  { name: 'sluice_endpoint_state_transitions_total', type: 'counter', labels: ['endpoint', 'from', 'to'], values: { from: HEALTH_STATES, to: HEALTH_STATES } },
  {
    name: 'sluice_health_check_duration_seconds',
    type: 'histogram',
    labels: ['endpoint'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  },
  { name: 'sluice_health_checks_total', type: 'counter', labels: ['endpoint', 'result'], values: { result: ['success', 'failure', 'timeout'] } },
  { name: 'sluice_endpoint_consecutive_failures', type: 'gauge', labels: ['endpoint'] },
  { name: 'sluice_endpoint_failures_total', type: 'counter', labels: ['endpoint', 'reason'], values: { reason: FAILURE_REASONS } },
  { name: 'sluice_endpoint_active_connections', type: 'gauge', labels: ['endpoint'] },
  { name: 'sluice_endpoint_effective_weight', type: 'gauge', labels: ['endpoint'] },
  { name: 'sluice_requests_total', type: 'counter', labels: ['endpoint', 'model', 'code'] },
  {
    name: 'sluice_request_duration_seconds',
    type: 'histogram',
    labels: ['endpoint', 'model', 'stream'],
    values: { stream: STREAM_LABELS },
    buckets: [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92, 163.84, 327.68],
  },
  {
    name: 'sluice_time_to_first_byte_seconds',
    type: 'histogram',
    labels: ['endpoint', 'model'],
    buckets: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60],
  },
  {
    name: 'sluice_time_to_first_token_seconds',
    type: 'histogram',
    labels: ['endpoint', 'model', 'stream'],
    values: { stream: STREAM_LABELS },
    buckets: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60],
  },
  { name: 'sluice_first_token_missed_total', type: 'counter', labels: ['endpoint', 'model'] },
  {
    name: 'sluice_inter_token_latency_seconds',
    type: 'histogram',
    labels: ['endpoint', 'model'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5],
  },
  {
    name: 'sluice_overhead_seconds',
    type: 'histogram',
    labels: ['endpoint'],
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  },
  { name: 'sluice_retries_total', type: 'counter', labels: ['endpoint', 'reason'], values: { reason: FAILURE_REASONS } },
  { name: 'sluice_tokens_total', type: 'counter', labels: ['endpoint', 'model', 'type'], values: { type: ['input', 'output'] } },
  { name: 'sluice_models_available_endpoints', type: 'gauge', labels: ['model'] },
  { name: 'sluice_config_reloads_total', type: 'counter', labels: ['result'], values: { result: ['success', 'failure'] } },
  { name: 'sluice_shutdown_cut_requests_total', type: 'counter', labels: [] },
  { name: 'sluice_build_info', type: 'gauge', labels: ['version', 'node_version'] },
  { name: 'sluice_rate_limited_total', type: 'counter', labels: ['client'], requires: 'rate_limits' },
  { name: 'sluice_rate_limit_store_errors_total', type: 'counter', labels: [] },
  { name: 'sluice_auth_failures_total', type: 'counter', labels: ['reason'], values: { reason: ['missing_key', 'invalid_key'] } },
  { name: 'sluice_admin_denied_total', type: 'counter', labels: ['reason'], values: { reason: ['network', 'token'] } },
  { name: 'sluice_endpoint_backend_requests', type: 'gauge', labels: ['endpoint', 'state'], values: { state: ['running', 'waiting'] }, requires: 'load_source' },
  { name: 'sluice_endpoint_backend_kv_cache_usage_ratio', type: 'gauge', labels: ['endpoint'], requires: 'load_source' },
  { name: 'sluice_endpoint_load_age_seconds', type: 'gauge', labels: ['endpoint'], requires: 'load_source' },
  { name: 'sluice_endpoint_load_stale', type: 'gauge', labels: ['endpoint'], requires: 'load_source' },
  { name: 'sluice_load_scrapes_total', type: 'counter', labels: ['endpoint', 'result'], values: { result: ['success', 'failure', 'timeout'] }, requires: 'load_source' },
  { name: 'sluice_route_decisions_total', type: 'counter', labels: ['endpoint', 'reason'], values: { reason: ROUTE_REASONS } },
  { name: 'sluice_prefix_index_lookups_total', type: 'counter', labels: ['result'], values: { result: ['hit', 'miss'] } },
  { name: 'sluice_prefix_index_blocks', type: 'gauge', labels: [] },
  { name: 'sluice_stored_response_lookups_total', type: 'counter', labels: ['result'], values: { result: OWNER_LOOKUPS } },
  { name: 'sluice_request_bodies_held_bytes', type: 'gauge', labels: [] },
];

export const SLUICE_METRIC_NAMES: ReadonlySet<string> = new Set(SLUICE_METRICS.map((m) => m.name));

/**
 * Labels a scraped series carries besides its own: job and instance always, and namespace and pod
 * when Kubernetes discovers the target (the ServiceMonitor). The alerts aggregate pod away with
 * instance; the recording rules keep namespace, so deployments in two namespaces stay apart.
 */
export const TARGET_LABELS = ['job', 'instance', 'namespace', 'pod'] as const;

export function metricContract(name: string): MetricContract | undefined {
  return SLUICE_METRICS.find((m) => m.name === name);
}

/**
 * The family a sample or selector name belongs to: `sluice_request_duration_seconds_bucket`
 * -> `sluice_request_duration_seconds`. Names that are not a histogram's series are returned as is.
 */
export function familyName(seriesName: string): string {
  const match = /^(.*)_(bucket|count|sum)$/.exec(seriesName);
  if (match && metricContract(match[1]!)?.type === 'histogram') return match[1]!;
  return seriesName;
}
