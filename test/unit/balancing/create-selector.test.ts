import { describe, expect, it } from 'vitest';
import { createSelector, type StrategyName } from '../../../src/balancing/index.js';
import { weighted } from './support.js';

describe('createSelector', () => {
  it('names the selector after its strategy', () => {
    expect(createSelector('least-connections').name).toBe('least-connections');
    expect(createSelector('random-two', { sticky: { maxLoadFactor: 1.25 } }).name).toBe('random-two');
  });

  it('a prefix-aware selector built on reload keeps the previous index when its size and TTL are unchanged', () => {
    const prefix = { indexSize: 1_000, ttlMs: 60_000, maxImbalanceRatio: 1.5, maxImbalanceRequests: 8 };
    const first = createSelector('prefix-aware', { prefix, now: () => 0 });
    first.select(weighted(1, 1, 1), { prompt: { blocks: [11, 12, 13], tokens: 300 } });
    expect(first.prefixIndex!.size).toBe(3);
    const kept = createSelector('prefix-aware', { prefix: { ...prefix, maxImbalanceRatio: 3 }, now: () => 0, previousIndex: first.prefixIndex });
    expect(kept.prefixIndex).toBe(first.prefixIndex);
    const resized = createSelector('prefix-aware', { prefix: { ...prefix, indexSize: 2_000 }, now: () => 0, previousIndex: first.prefixIndex });
    expect(resized.prefixIndex).not.toBe(first.prefixIndex);
    expect(resized.prefixIndex!.size).toBe(0);
  });

  it('rejects an unknown strategy coming from untyped configuration', () => {
    expect(() => createSelector('fastest' as StrategyName)).toThrow(/unknown balancing strategy: fastest/);
  });

  it('uses the strategy for picks without a sticky key, even when sticky is configured', () => {
    const selector = createSelector('round-robin', { sticky: { maxLoadFactor: 1.25 } });
    const pool = weighted(1, 1, 1);
    const names = Array.from({ length: 6 }, () => selector.select(pool)!.name).join('');
    expect(names).toBe('abcabc');
  });

  it('ignores sticky keys when sticky is not configured', () => {
    const selector = createSelector('round-robin');
    const pool = weighted(1, 1, 1);
    const pick = (): string => selector.select(pool, { stickyKey: 'same' })!.name;
    const names = Array.from({ length: 6 }, pick).join('');
    expect(names).toBe('abcabc');
  });

  it('routes a sticky key within the preferred tier only', () => {
    const selector = createSelector('least-connections', { sticky: { maxLoadFactor: 1.25 } });
    const pool = [
      ...weighted(1, 1).map((endpoint) => ({ ...endpoint, priority: 1 })),
      ...weighted(1, 1, 1).map((endpoint) => ({ ...endpoint, name: `low-${endpoint.name}` })),
    ];
    for (let index = 0; index < 200; index++) {
      expect(['a', 'b']).toContain(selector.select(pool, { stickyKey: `key-${index}` })!.name);
    }
  });
});
