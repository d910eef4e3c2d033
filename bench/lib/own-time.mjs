// Sluice's own time per request, as Sluice itself reports it: the `sluice_overhead_seconds`
// histogram (arrival to the upstream request written, less the body's upload, plus the backend's
// response headers to the client's), read from its /metrics before and after a measured run. This is the figure LiteLLM
// and TensorZero publish for themselves; unlike the latency tables' "added" columns, it leaves out
// the kernel, the other processes and the load generator.

const FAMILY = 'sluice_overhead_seconds';
const BUCKET = new RegExp(`^${FAMILY}_bucket\\{(?:.*,)?le="([^"]+)"(?:,.*)?\\} (\\S+)`);

/** The histogram's cumulative bucket counts, added up over every endpoint: [{ le, count }], by `le`. */
export function overheadBuckets(exposition) {
  const byLe = new Map();
  for (const line of exposition.split('\n')) {
    const m = BUCKET.exec(line);
    if (!m) continue;
    const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
    byLe.set(le, (byLe.get(le) ?? 0) + Number(m[2]));
  }
  return [...byLe].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
}

/** What was observed between two readings of the same histogram (`overheadBuckets`). */
export function bucketsBetween(before, after) {
  const then = new Map(before.map((b) => [b.le, b.count]));
  return after.map((b) => ({ le: b.le, count: b.count - (then.get(b.le) ?? 0) }));
}

/**
 * The q-quantile of cumulative buckets, interpolated linearly within its bucket as Prometheus's
 * histogram_quantile does (the first bucket from 0; a quantile in the +Inf bucket is the highest
 * finite bound). Null with no observations.
 */
export function bucketQuantile(buckets, q) {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const { le, count } of buckets) {
    if (count >= rank) {
      if (le === Infinity) return lower;
      return lower + ((le - lower) * (rank - below)) / Math.max(count - below, 1);
    }
    lower = le;
    below = count;
  }
  return lower;
}

/** The share of observations at or under `bound` seconds (a bucket bound), or null with none. */
export function shareWithin(buckets, bound) {
  const total = buckets.at(-1)?.count ?? 0;
  const at = buckets.find((b) => b.le === bound);
  return total === 0 || !at ? null : at.count / total;
}

/** Reads the histogram from a Sluice's /metrics. */
export async function readOverhead(metricsUrl) {
  const res = await fetch(metricsUrl);
  if (!res.ok) throw new Error(`${metricsUrl} answered ${res.status}`);
  return overheadBuckets(await res.text());
}

/** A run's figures from two readings: requests observed, p50 and p99 (ms), and the share within 1 ms. */
export function summariseOverhead(before, after) {
  const b = bucketsBetween(before, after);
  const ms = (s) => (s === null ? null : s * 1000);
  return { requests: b.at(-1)?.count ?? 0, p50: ms(bucketQuantile(b, 0.5)), p99: ms(bucketQuantile(b, 0.99)), within1ms: shareWithin(b, 0.001) };
}
