import client from 'prom-client';
import type { RenderedMetrics } from '../telemetry/index.js';

/** The part of prom-client's `getMetricsAsJSON()` entries the merge looks at. */
interface MetricJson {
  readonly name: string;
  readonly type: string;
}

function isMetricJson(value: unknown): value is MetricJson {
  return typeof value === 'object' && value !== null && typeof (value as MetricJson).name === 'string' && typeof (value as MetricJson).type === 'string';
}

/**
 * Merges the metrics of every process of a cluster with prom-client's AggregatorRegistry: each
 * metric by its own `aggregator` (counters and histograms sum; gauges as SluiceMetrics sets
 * them). `parts[0]` must be the primary's, so that `first` takes the primary's value.
 */
export async function mergeMetrics(parts: ReadonlyArray<readonly unknown[]>, openMetrics: boolean): Promise<RenderedMetrics> {
  // A counter's name in the JSON has `_total` or not depending on how its process last rendered;
  // the classic format wants it, OpenMetrics adds it per sample.
  const normalised = parts.map((metrics) =>
    metrics.filter(isMetricJson).map((metric) => {
      if (metric.type !== 'counter') return metric;
      const base = metric.name.replace(/_total$/, '');
      return { ...metric, name: openMetrics ? base : `${base}_total` };
    }),
  );
  const registry = client.AggregatorRegistry.aggregate(normalised);
  registry.setContentType(openMetrics ? client.Registry.OPENMETRICS_CONTENT_TYPE : client.Registry.PROMETHEUS_CONTENT_TYPE);
  return { contentType: registry.contentType, body: await registry.metrics() };
}
