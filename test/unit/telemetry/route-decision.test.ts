import { describe, expect, it } from 'vitest';
import type { CandidateScore } from '../../../src/balancing/index.js';
import { routeAttributes } from '../../../src/telemetry/route-decision.js';

const score = (endpoint: string, total: number, staleLoad = false): CandidateScore => ({ endpoint, total, queue: total / 4, kvCache: 0.5, prefix: 0, resident: 1, staleLoad });

describe('routeAttributes', () => {
  it('works the scores out only when the decision has them, and shows the chosen one’s parts and the best totals', () => {
    let asked = 0;
    const scores = () => {
      asked++;
      return [score('a', 1.23456), score('b', 2.5, true), score('c', 0.5)];
    };
    const attributes = routeAttributes({ endpoint: { name: 'b' }, reason: 'prefix_match', scores, prefixBlocks: 3, excluded: [{ endpoint: 'd', reason: 'unhealthy' }] });
    expect(asked).toBe(1);
    expect(attributes).toEqual({
      'sluice.route.reason': 'prefix_match',
      'sluice.route.score': 2.5,
      'sluice.route.score.queue': 0.625,
      'sluice.route.score.kv_cache': 0.5,
      'sluice.route.score.prefix': 0,
      'sluice.route.score.resident': 1,
      'sluice.route.scores': 'b=2.5,a=1.235,c=0.5',
      'sluice.route.stale_load': 'b',
      'sluice.route.prefix_blocks': 3,
      'sluice.route.excluded': 'd:unhealthy',
    });
  });

  it('has only the reason for a strategy without scores', () => {
    expect(routeAttributes({ endpoint: { name: 'a' }, reason: 'strategy' })).toEqual({ 'sluice.route.reason': 'strategy' });
  });
});
