import { describe, expect, it } from 'vitest';
import { BOOTSTRAP, ratioInterval, resample } from '../../bench/routing/bootstrap.js';
import { percentile } from '../../bench/routing/stats.js';
import { createRandom } from '../../src/model-server/prng.js';

const p90 = (values: readonly number[]) => percentile(values, 90);
/** `n` values from a fixed seed, spread like TTFTs: most near 100 ms, a tail to about 1 s. */
const sample = (n: number, seed: number) => {
  const random = createRandom(seed);
  return Array.from({ length: n }, () => 80 + 900 * random() ** 4);
};

describe('bootstrap resampling', () => {
  it('draws as many values as it is given, each one of them, the same for the same seed', () => {
    const values = [10, 20, 30, 40, 50];
    const drawn = resample(values, createRandom(7));
    expect(drawn).toHaveLength(5);
    for (const v of drawn) expect(values).toContain(v);
    expect(resample(values, createRandom(7))).toEqual(drawn);
  });

  it('reaches every value, with replacement', () => {
    const random = createRandom(3);
    const seen = new Set<number>();
    let repeated = false;
    for (let i = 0; i < 200; i++) {
      const drawn = resample([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], random);
      for (const v of drawn) seen.add(v);
      if (new Set(drawn).size < drawn.length) repeated = true;
    }
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(repeated).toBe(true);
  });
});

describe('bootstrap interval of a ratio', () => {
  it('is a point when neither sample varies', () => {
    expect(ratioInterval([10, 10, 10], [5, 5], p90)).toEqual({ low: 2, high: 2 });
  });

  it('is the same for the same samples and options', () => {
    const a = sample(60, 1);
    const b = sample(60, 2);
    expect(ratioInterval(a, b, p90)).toEqual(ratioInterval(a, b, p90));
    // Pinned: a change here changes the intervals every stored result file renders.
    const { low, high } = ratioInterval(a, b, p90);
    expect(low).toBeCloseTo(0.448862, 6);
    expect(high).toBeCloseTo(1.502155, 6);
    expect(BOOTSTRAP).toEqual({ resamples: 2000, seed: 1, levelPercent: 95 });
  });

  it('takes its ends among the resampled ratios, with the nearest-rank percentile', () => {
    // max of a resample of [1, 2] over [1] is 1 (a quarter of the time) or 2: no interpolation.
    expect(ratioInterval([1, 2], [1], (v) => Math.max(...v))).toEqual({ low: 1, high: 2 });
    expect(ratioInterval([1, 2], [1], (v) => Math.max(...v), { ...BOOTSTRAP, levelPercent: 40 })).toEqual({ low: 2, high: 2 });
  });

  it('holds the true ratio, and narrows as the samples grow', () => {
    const base = sample(40, 11);
    const threeTimes = sample(40, 12).map((v) => v * 3);
    const small = ratioInterval(threeTimes, base, p90, { ...BOOTSTRAP, resamples: 500 });
    expect(small.low).toBeLessThan(3);
    expect(small.high).toBeGreaterThan(3);
    const large = ratioInterval(sample(1000, 12).map((v) => v * 3), sample(1000, 11), p90, { ...BOOTSTRAP, resamples: 500 });
    expect(large.low).toBeLessThan(3);
    expect(large.high).toBeGreaterThan(3);
    expect(large.high - large.low).toBeLessThan((small.high - small.low) / 2);
    expect(large.low).toBeGreaterThan(2);
  });

  it('is NaN without samples or with a zero statistic below', () => {
    expect(ratioInterval([], [1], p90).low).toBeNaN();
    expect(ratioInterval([1], [], p90).high).toBeNaN();
    expect(ratioInterval([1, 2], [0, 0], p90)).toEqual({ low: Number.NaN, high: Number.NaN });
  });
});
