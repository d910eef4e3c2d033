import { describe, expect, it } from 'vitest';
import { hitRate, percentile } from '../../bench/routing/stats.js';

describe('routing benchmark statistics', () => {
  it('computes nearest-rank percentiles: the smallest value with at least p% of the values at or below it', () => {
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile([5, 1, 4, 2, 3], 99)).toBe(5);
    const oneToTen = [10, 3, 7, 1, 9, 2, 8, 4, 6, 5];
    expect(percentile(oneToTen, 90)).toBe(9);
    expect(percentile(oneToTen, 91)).toBe(10);
    expect(percentile(oneToTen, 100)).toBe(10);
    expect(percentile(oneToTen, 0.1)).toBe(1);
    // 113 requests, as a 16 s step at 8 req/s: p90 is the 102nd smallest, 11 above it.
    expect(percentile(Array.from({ length: 113 }, (_, i) => 113 - i), 90)).toBe(102);
    expect(percentile([], 90)).toBeNaN();
  });

  it('leaves its input in place', () => {
    const values = [3, 1, 2];
    percentile(values, 50);
    expect(values).toEqual([3, 1, 2]);
  });

  it('computes hit rates, NaN without queries', () => {
    expect(hitRate(30, 120)).toBe(0.25);
    expect(hitRate(0, 0)).toBeNaN();
  });
});
