// HDR histograms of latencies in microseconds, summarised for the report and the percentile plot.
import hdr from 'hdr-histogram-js';

export function newHistogram() {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

/** Points of the "latency by percentile" curve, evenly spaced on a log 1/(1-p) axis. */
export function percentileCurve(h) {
  const points = [];
  const last = Math.max(1, Math.log10(Math.max(1, h.totalCount)));
  for (let k = 0; k <= last * 10; k += 1) {
    const x = 10 ** (k / 10); // 1/(1-p)
    const p = 100 * (1 - 1 / x);
    points.push({ x, percentile: p, ms: h.getValueAtPercentile(p) / 1000 });
  }
  points.push({ x: 10 ** last, percentile: 100, ms: h.maxValue / 1000 });
  return points;
}

/** p50, p90, p99, p99.9 and max in milliseconds, the count, and the histogram itself (compressed). */
export function summarise(h) {
  const at = (p) => (h.totalCount === 0 ? null : h.getValueAtPercentile(p) / 1000);
  return {
    count: h.totalCount,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max: h.totalCount === 0 ? null : h.maxValue / 1000,
    curve: h.totalCount === 0 ? [] : percentileCurve(h),
    hdr: hdr.encodeIntoCompressedBase64(h),
  };
}

/** One summary of several runs' latencies (their histograms added), as `summarise` makes of one. */
export function mergeSummaries(summaries) {
  const h = newHistogram();
  for (const s of summaries) h.add(hdr.decodeFromCompressedBase64(s.hdr));
  return summarise(h);
}
