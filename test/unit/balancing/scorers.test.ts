import { describe, expect, it } from 'vitest';
import { kvCacheScore, prefixScore, queueCost, queueRequests, queueScore, residentScore, TOKENS_SMOOTHING } from '../../../src/balancing/scorers/index.js';

describe('queue scorer', () => {
  it('scores the least loaded 1 and the others by their load relative to it', () => {
    const lowest = Math.min(queueCost(0, 1), queueCost(3, 1), queueCost(9, 1));
    expect(queueScore(0, 1, lowest)).toBe(1);
    expect(queueScore(3, 1, lowest)).toBe(0.25);
    expect(queueScore(9, 1, lowest)).toBe(0.1);
  });

  it('counts requests per unit of weight, so a heavier endpoint takes more before scoring lower', () => {
    const lowest = Math.min(queueCost(5, 2), queueCost(2, 1));
    expect(queueScore(5, 2, lowest)).toBe(1);
    expect(queueScore(2, 1, lowest)).toBeCloseTo(1, 10);
    expect(queueScore(6, 2, lowest)).toBeLessThan(1);
  });

  it('a busy fleet: one request more hardly matters, unlike min-max normalisation', () => {
    const lowest = Math.min(queueCost(40, 1), queueCost(41, 1));
    expect(queueScore(41, 1, lowest)).toBeGreaterThan(0.97);
  });

  it('counts the backend’s requests only when every candidate has them, else Sluice’s own for every candidate', () => {
    expect(queueRequests(10, 5, true)).toBe(10);
    expect(queueRequests(10, 5, false)).toBe(5);
    expect(queueRequests(undefined, 5, false)).toBe(5);
  });
});

describe('KV-cache scorer', () => {
  it('scores free cache, 1 - usage, when every candidate reports it', () => {
    expect(kvCacheScore(0.2, 5_000, 1, true, 0)).toBeCloseTo(0.8, 10);
    expect(kvCacheScore(1, 0, 1, true, 0)).toBe(0);
    expect(kvCacheScore(0, 0, 1, true, 0)).toBe(1);
  });

  it('scores usage within one prompt’s worth of the lowest as the lowest, and larger differences less that slack', () => {
    // Lowest usage 0.10, the routed prompt is 0.06 of this endpoint's cache.
    expect(kvCacheScore(0.1, 0, 1, true, 0, 0.1, 0.06)).toBeCloseTo(0.9, 10);
    expect(kvCacheScore(0.15, 0, 1, true, 0, 0.1, 0.06)).toBeCloseTo(0.9, 10);
    expect(kvCacheScore(0.4, 0, 1, true, 0, 0.1, 0.06)).toBeCloseTo(0.66, 10);
    expect(kvCacheScore(1, 0, 1, true, 0, 0.1, 0.06)).toBeCloseTo(0.06, 10);
    // Without a slack (prompt size or cache size unknown), usage counts as reported.
    expect(kvCacheScore(0.15, 0, 1, true, 0, 0.1, 0)).toBeCloseTo(0.85, 10);
    expect(kvCacheScore(0.15, 0, 1, true, 0, 0.1)).toBeCloseTo(0.85, 10);
  });

  it('falls back to Sluice’s prompt tokens in flight, relative to the lightest, when any candidate does not report', () => {
    expect(kvCacheScore(0.9, 0, 1, false, 0)).toBe(1);
    expect(kvCacheScore(undefined, TOKENS_SMOOTHING, 1, false, 0)).toBe(0.5);
    expect(kvCacheScore(undefined, 2 * TOKENS_SMOOTHING, 2, false, 0)).toBe(0.5);
  });
});

describe('prefix scorer', () => {
  it('is the share of the prompt’s blocks held', () => {
    expect(prefixScore(0, 10)).toBe(0);
    expect(prefixScore(5, 10)).toBe(0.5);
    expect(prefixScore(10, 10)).toBe(1);
    expect(prefixScore(0, 0)).toBe(0);
  });
});

describe('model-resident scorer', () => {
  it('prefers loaded over unknown over cold', () => {
    expect(residentScore(true)).toBe(1);
    expect(residentScore(undefined)).toBe(0.5);
    expect(residentScore(false)).toBe(0);
  });
});
