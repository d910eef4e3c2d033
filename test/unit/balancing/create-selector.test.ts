import { describe, expect, it } from 'vitest';
import { createSelector, type StrategyName } from '../../../src/balancing/index.js';
import { weighted } from './support.js';

describe('createSelector', () => {
  it('names the selector after its strategy', () => {
    expect(createSelector('least-connections').name).toBe('least-connections');
    expect(createSelector('random-two', { sticky: { maxLoadFactor: 1.25 } }).name).toBe('random-two');
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
