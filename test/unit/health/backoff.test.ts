import { describe, expect, it } from 'vitest';
import { nextCheckDelayMs, withJitter } from '../../../src/health/backoff.js';

function delaysFor(intervalMs: number, upToFailures: number): number[] {
  return Array.from({ length: upToFailures + 1 }, (_, failures) => nextCheckDelayMs(intervalMs, failures));
}

describe('nextCheckDelayMs', () => {
  it('keeps the interval for the first failure, then doubles up to min(12 intervals, 60 s) for a 5 s interval', () => {
    expect(delaysFor(5_000, 6)).toEqual([5_000, 5_000, 10_000, 20_000, 40_000, 60_000, 60_000]);
  });

  it('caps a 2 s interval at 12 intervals (24 s), below the 60 s ceiling', () => {
    expect(delaysFor(2_000, 6)).toEqual([2_000, 2_000, 4_000, 8_000, 16_000, 24_000, 24_000]);
  });

  it('caps even the x8 step when it would pass 60 s', () => {
    expect(delaysFor(10_000, 5)).toEqual([10_000, 10_000, 20_000, 40_000, 60_000, 60_000]);
  });

  it('never goes below the interval when the interval is already over 60 s', () => {
    expect(delaysFor(90_000, 4)).toEqual([90_000, 90_000, 90_000, 90_000, 90_000]);
  });

  it('stays finite and capped for very long failure streaks', () => {
    expect(nextCheckDelayMs(5_000, 10_000)).toBe(60_000);
  });
});

describe('withJitter', () => {
  it('spreads by at most +-10% by default', () => {
    expect(withJitter(10_000, () => 0)).toBe(9_000);
    expect(withJitter(10_000, () => 0.5)).toBe(10_000);
    expect(withJitter(10_000, () => 0.999_999)).toBe(11_000);
  });

  it('honours a custom fraction', () => {
    expect(withJitter(10_000, () => 0, 0.25)).toBe(7_500);
    expect(withJitter(10_000, () => 0.75, 0.25)).toBe(11_250);
  });

  it('stays within bounds for any random value', () => {
    for (let step = 0; step < 100; step++) {
      const value = withJitter(5_000, () => step / 100);
      expect(value).toBeGreaterThanOrEqual(4_500);
      expect(value).toBeLessThanOrEqual(5_500);
    }
  });
});
