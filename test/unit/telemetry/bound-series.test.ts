import client from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BoundCounter, BoundHistogram } from '../../../src/telemetry/bound-series.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
/** Values on, between, below and above the bounds. */
const VALUES = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 30, 0];

function pair<T extends client.Counter<string> | client.Histogram<string>>(make: (name: string) => T): [T, T] {
  return [make('by_prom_client'), make('bound')];
}

/** A metric's values with its name taken out, to compare two metrics fed the same way. */
async function values(metric: client.Counter<string> | client.Histogram<string>) {
  const { name, values: v } = await metric.get();
  // prom-client's types leave out the sample name a histogram's values carry (`_bucket`, `_sum`, `_count`).
  return v.map((s) => ({ labels: s.labels, value: s.value, metricName: (s as { metricName?: string }).metricName?.replace(name, 'x') }));
}

describe('BoundHistogram', () => {
  it('leaves prom-client holding what its own child would have, bucket by bucket, with or without exemplars', async () => {
    for (const enableExemplars of [false, true]) {
      const registers: client.Registry[] = [];
      const [reference, bound] = pair((name) => new client.Histogram({ name, help: 'h', labelNames: ['endpoint', 'model'], buckets: BUCKETS, registers, enableExemplars }));
      const child = reference.labels('a', 'm');
      const series = new BoundHistogram(bound, { endpoint: 'a', model: 'm' });
      for (const v of VALUES) {
        child.observe(v);
        series.observe(v);
      }
      reference.labels('b', 'm').observe(0.2);
      new BoundHistogram(bound, { endpoint: 'b', model: 'm' }).observe(0.2);
      expect(await values(bound)).toEqual(await values(reference));
      expect((await values(bound)).find((s) => s.metricName === 'x_count' && s.labels.endpoint === 'a')?.value).toBe(VALUES.length);
    }
  });

  describe('with exemplars', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    /** Both histograms rendered as OpenMetrics, where exemplars show, with the name taken out. */
    async function openMetrics(histogram: client.Histogram<string>): Promise<string> {
      const registry = new client.Registry<client.OpenMetricsContentType>();
      registry.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);
      registry.registerMetric(histogram);
      return (await registry.metrics()).replaceAll((await histogram.get()).name, 'x');
    }

    it('leaves the exemplar prom-client would have in each bucket, +Inf included, across a reset', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(1_700_000_000_123);
      const [reference, bound] = pair((name) => new client.Histogram({ name, help: 'h', labelNames: ['endpoint', 'model'], buckets: BUCKETS, registers: [], enableExemplars: true }));
      const series = new BoundHistogram(bound, { endpoint: 'a', model: 'm' });
      const labels = { endpoint: 'a', model: 'm' };
      const feed = (value: number, traceId: string | undefined) => {
        if (traceId === undefined) reference.labels(labels).observe(value);
        else reference.observe({ labels, value, exemplarLabels: { trace_id: traceId } });
        series.observe(value, traceId);
        vi.advanceTimersByTime(7);
      };
      // The first observation makes the series (prom-client's own path), with an exemplar.
      VALUES.forEach((v, i) => feed(v, i % 3 === 1 ? undefined : `${i.toString(16).padStart(2, '0')}${'ab'.repeat(15)}`));
      // A later sample without a trace id leaves the bucket's exemplar as it was.
      feed(0.05, undefined);
      feed(30, 'ff'.repeat(16));
      const before = await openMetrics(bound);
      expect(before).toBe(await openMetrics(reference));
      expect(before).toContain(`x_bucket{le="+Inf",endpoint="a",model="m"} ${VALUES.length + 2} # {trace_id="${'ff'.repeat(16)}"} 30`);
      expect(before).toContain(`x_bucket{le="0.1",endpoint="a",model="m"} 8 # {trace_id="05${'ab'.repeat(15)}"} 0.1 `);
      reference.reset();
      bound.reset();
      feed(0.5, 'cd'.repeat(16));
      feed(0.0002, 'ef'.repeat(16));
      expect(await openMetrics(bound)).toBe(await openMetrics(reference));
    });

    it('shares a series with another BoundHistogram and with prom-client\'s own API', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(1_700_000_000_000);
      const [reference, bound] = pair((name) => new client.Histogram({ name, help: 'h', labelNames: ['endpoint'], buckets: BUCKETS, registers: [], enableExemplars: true }));
      const first = new BoundHistogram(bound, { endpoint: 'a' });
      const second = new BoundHistogram(bound, { endpoint: 'a' });
      VALUES.forEach((value, i) => {
        const traceId = i.toString(16).padStart(32, '0');
        reference.observe({ labels: { endpoint: 'a' }, value, exemplarLabels: { trace_id: traceId } });
        // The one that comes second to a bucket finds an exemplar there already, made by the other.
        if (i % 3 === 0) first.observe(value, traceId);
        else if (i % 3 === 1) second.observe(value, traceId);
        else bound.observe({ labels: { endpoint: 'a' }, value, exemplarLabels: { trace_id: traceId } });
        vi.advanceTimersByTime(3);
      });
      expect(await openMetrics(bound)).toBe(await openMetrics(reference));
    });

    it('takes no exemplar where the histogram keeps none', async () => {
      const [reference, bound] = pair((name) => new client.Histogram({ name, help: 'h', labelNames: ['endpoint'], buckets: BUCKETS, registers: [] }));
      const series = new BoundHistogram(bound, { endpoint: 'a' });
      for (const v of VALUES) {
        reference.labels('a').observe(v);
        series.observe(v, 'ab'.repeat(16));
      }
      expect(await openMetrics(bound)).toBe(await openMetrics(reference));
      expect(await openMetrics(bound)).not.toContain('trace_id');
    });
  });

  it('makes its series again after prom-client dropped it (reset, remove), and still refuses what prom-client refuses', async () => {
    const histogram = new client.Histogram({ name: 'h', help: 'h', labelNames: ['endpoint'], buckets: BUCKETS, registers: [] });
    const series = new BoundHistogram(histogram, { endpoint: 'a' });
    series.observe(0.5);
    histogram.reset();
    series.observe(0.05);
    series.observe(0.05);
    const count = async () => (await values(histogram)).find((v) => v.metricName === 'x_count')?.value;
    expect(await count()).toBe(2);
    histogram.remove({ endpoint: 'a' });
    expect(await count()).toBeUndefined();
    series.observe(5);
    expect(await count()).toBe(1);
    expect(() => series.observe(Number.NaN)).toThrow(TypeError);
  });
});

describe('BoundCounter', () => {
  it('adds to the value prom-client holds, including to a series made beforehand at zero', async () => {
    const [reference, bound] = pair((name) => new client.Counter({ name, help: 'c', labelNames: ['endpoint', 'code'], registers: [] }));
    bound.inc({ endpoint: 'a', code: '200' }, 0);
    reference.inc({ endpoint: 'a', code: '200' }, 0);
    const series = new BoundCounter(bound, { endpoint: 'a', code: '200' });
    for (const n of [1, 1, 5, 0.5]) {
      series.inc(n);
      reference.inc({ endpoint: 'a', code: '200' }, n);
    }
    series.inc();
    reference.inc({ endpoint: 'a', code: '200' });
    expect(await values(bound)).toEqual(await values(reference));
    expect((await bound.get()).values).toHaveLength(1);
    expect((await bound.get()).values[0]?.value).toBe(8.5);
  });

  it('makes its series again after a reset or remove, and refuses a decrease as prom-client does', async () => {
    const counter = new client.Counter({ name: 'c', help: 'c', labelNames: ['endpoint'], registers: [] });
    const series = new BoundCounter(counter, { endpoint: 'a' });
    series.inc(3);
    counter.reset();
    series.inc(2);
    expect((await counter.get()).values[0]?.value).toBe(2);
    counter.remove({ endpoint: 'a' });
    series.inc();
    expect((await counter.get()).values.map((v) => v.value)).toEqual([1]);
    expect(() => series.inc(-1)).toThrow();
  });
});
