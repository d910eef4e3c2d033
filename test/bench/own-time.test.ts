import { describe, expect, it } from 'vitest';
import { bucketQuantile, overheadBuckets, summariseOverhead } from '../../bench/lib/own-time.mjs';

interface Bucket { le: number; count: number }

/** An exposition with two endpoints' series of sluice_overhead_seconds, and another histogram that must be ignored. */
function exposition(a: number[], b: number[]): string {
  const les = ['0.0005', '0.001', '0.0025', '+Inf'];
  const series = (endpoint: string, counts: number[]) => les.map((le, i) => `sluice_overhead_seconds_bucket{endpoint="${endpoint}",le="${le}"} ${counts[i]}`);
  return [
    '# HELP sluice_overhead_seconds own time',
    '# TYPE sluice_overhead_seconds histogram',
    ...series('b0', a),
    `sluice_overhead_seconds_sum{endpoint="b0"} 0.01`,
    `sluice_overhead_seconds_count{endpoint="b0"} ${a.at(-1)}`,
    ...series('b1', b),
    '# TYPE sluice_request_duration_seconds histogram',
    'sluice_request_duration_seconds_bucket{endpoint="b0",model="m",le="0.001"} 999',
    '',
  ].join('\n');
}

describe("the benchmark's reading of Sluice's own time", () => {
  it('adds up the buckets of every endpoint, and nothing of other histograms', () => {
    const buckets = overheadBuckets(exposition([1, 2, 3, 4], [10, 20, 30, 40])) as Bucket[];
    expect(buckets).toEqual([
      { le: 0.0005, count: 11 },
      { le: 0.001, count: 22 },
      { le: 0.0025, count: 33 },
      { le: Infinity, count: 44 },
    ]);
  });

  it('interpolates a quantile within its bucket, as histogram_quantile does', () => {
    const buckets: Bucket[] = [
      { le: 0.001, count: 50 },
      { le: 0.002, count: 90 },
      { le: 0.004, count: 100 },
      { le: Infinity, count: 100 },
    ];
    // Rank 25 of 50 in the first bucket, which starts at 0.
    expect(bucketQuantile(buckets, 0.25)).toBeCloseTo(0.0005, 12);
    // Rank 70: 20 of the second bucket's 40.
    expect(bucketQuantile(buckets, 0.7)).toBeCloseTo(0.0015, 12);
    // Rank 99: 9 of the third bucket's 10.
    expect(bucketQuantile(buckets, 0.99)).toBeCloseTo(0.0038, 12);
    // A quantile in the +Inf bucket is the highest finite bound.
    expect(bucketQuantile([{ le: 0.001, count: 1 }, { le: Infinity, count: 10 }], 0.5)).toBe(0.001);
    expect(bucketQuantile([{ le: 0.001, count: 0 }, { le: Infinity, count: 0 }], 0.5)).toBeNull();
  });

  it('summarises what was observed between two readings', () => {
    const before = overheadBuckets(exposition([100, 100, 100, 100], [0, 0, 0, 0]));
    const after = overheadBuckets(exposition([150, 190, 200, 200], [50, 50, 50, 50]));
    // 150 new observations: 100 within 0.5 ms, 140 within 1 ms, all within 2.5 ms.
    const o = summariseOverhead(before, after) as { requests: number; p50: number; p99: number; within1ms: number };
    expect(o.requests).toBe(150);
    expect(o.p50).toBeCloseTo(0.375, 9);
    expect(o.within1ms).toBeCloseTo(140 / 150, 12);
    // Rank 148.5: 8.5 of the third bucket's 10, between 1 and 2.5 ms.
    expect(o.p99).toBeCloseTo(1 + 1.5 * 0.85, 9);
  });
});
