import client from 'prom-client';
import type { RenderedMetrics } from '../telemetry/index.js';

/** The part of prom-client's `getMetricsAsJSON()` entries the merge looks at. */
interface MetricJson {
  readonly name: string;
  readonly type: string;
  readonly aggregator?: string;
  readonly values?: ReadonlyArray<{ readonly labels?: Readonly<Record<string, unknown>> }>;
}

function isMetricJson(value: unknown): value is MetricJson {
  return typeof value === 'object' && value !== null && typeof (value as MetricJson).name === 'string' && typeof (value as MetricJson).type === 'string';
}

/** Whether every series of the metric carries a `worker` label: one series per process, none shared. */
function perProcess(metric: MetricJson): boolean {
  const values = metric.values ?? [];
  return values.length > 0 && values.every((v) => v.labels?.worker !== undefined);
}

/**
 * One process's metrics as the merge wants them. A counter under the name the output wants: its
 * name in the JSON has `_total` or not depending on how its process last rendered; the classic
 * format wants it, OpenMetrics adds it per sample. A per-process metric that prom-client omits
 * from a merge (`process_start_time_seconds`: one process's start is not the cluster's) is kept
 * as each process's own series, which its `worker` label tells apart.
 */
function normalised(metrics: readonly unknown[], openMetrics: boolean): MetricJson[] {
  return metrics
    .filter(isMetricJson)
    .map((metric) => (metric.aggregator === 'omit' && perProcess(metric) ? { ...metric, aggregator: 'first' } : metric))
    .map((metric) => {
      if (metric.type !== 'counter') return metric;
      const base = metric.name.replace(/_total$/, '');
      return { ...metric, name: openMetrics ? base : `${base}_total` };
    });
}

/**
 * Merges the metrics of every process of a cluster with prom-client's AggregatorRegistry: each
 * metric by its own `aggregator` (counters and histograms sum; gauges as SluiceMetrics sets
 * them). `parts[0]` must be the primary's, so that `first` takes the primary's value.
 */
export async function mergeMetrics(parts: ReadonlyArray<readonly unknown[]>, openMetrics: boolean): Promise<RenderedMetrics> {
  const registry = client.AggregatorRegistry.aggregate(parts.map((metrics) => normalised(metrics, openMetrics)));
  registry.setContentType(openMetrics ? client.Registry.OPENMETRICS_CONTENT_TYPE : client.Registry.PROMETHEUS_CONTENT_TYPE);
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/**
 * What the workers that are gone had counted, with one more added: `lastReport`, a dead worker's
 * metrics as it last reported them. Kept and merged with the live processes' metrics, so that a
 * cluster's totals never go down when a worker dies and its slot starts again from zero:
 * Prometheus would take the drop for a counter reset, and `rate()` the whole new total for an
 * increase. Only counters and histograms are kept, and of them only the series without a `worker`
 * label: a dead worker holds no gauge's value, and the per-process series (Node's own metrics)
 * start again with their process, as any restarted process's do. What the worker counted after
 * its last report is lost: a total that misses a little, never one that goes back.
 */
export async function retire(retired: readonly unknown[], lastReport: readonly unknown[]): Promise<unknown[]> {
  const events = keepSeries(
    normalised(lastReport, false).filter((metric) => metric.type === 'counter' || metric.type === 'histogram'),
    (labels) => labels?.worker === undefined,
  );
  return client.AggregatorRegistry.aggregate([normalised(retired, false), events]).getMetricsAsJSON();
}

type SeriesLabels = Readonly<Record<string, unknown>> | undefined;

/** The metrics with only their series whose labels `keep` takes; a metric left with none is left out. */
function keepSeries(metrics: readonly MetricJson[], keep: (labels: SeriesLabels) => boolean): MetricJson[] {
  return metrics.map((metric) => ({ ...metric, values: (metric.values ?? []).filter((v) => keep(v.labels)) })).filter((metric) => metric.values.length > 0);
}

/** The endpoints the series of these processes' metrics name (their `endpoint` label). */
export function endpointsNamed(parts: ReadonlyArray<readonly unknown[]>): Set<string> {
  const names = new Set<string>();
  for (const metric of parts.flat().filter(isMetricJson)) {
    for (const { labels } of metric.values ?? []) if (typeof labels?.endpoint === 'string') names.add(labels.endpoint);
  }
  return names;
}

/**
 * The dead workers' counts (see retire) without the series of the endpoints that have left: an
 * endpoint not in `live` (the fleet, and every endpoint a live process still has series of) is
 * gone from every process, as a single process drops its series once it has drained. Kept, its
 * series would stay in the merge for good, at the dead workers' share of its last total.
 */
export function forgetEndpoints(retired: readonly unknown[], live: ReadonlySet<string>): unknown[] {
  return keepSeries(retired.filter(isMetricJson), (labels) => typeof labels?.endpoint !== 'string' || live.has(labels.endpoint));
}
