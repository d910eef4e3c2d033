import { describe, expect, it } from 'vitest';
import { CacheRegime, loadFirst, type CacheRegimeOptions } from '../../../src/balancing/cache-regime.js';
import type { CandidateScore } from '../../../src/balancing/index.js';

function setup(overrides: Partial<CacheRegimeOptions> = {}) {
  let now = 0;
  const regime = new CacheRegime({ fitFraction: 0.5, blockTokens: 64, windowMs: 60_000, maxBlocks: 10_000, now: () => now, ...overrides });
  return { regime, advance: (ms: number) => (now += ms) };
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);
const caches = (...tokens: Array<number | undefined>) => tokens.map((kvCapacityTokens) => ({ kvCapacityTokens }));

describe('CacheRegime', () => {
  it('counts the distinct blocks served within the window, in tokens', () => {
    const { regime, advance } = setup();
    regime.observe(range(1, 32)); // a tenant's system prompt
    regime.observe([...range(1, 32), 100, 101]); // the same prompt and a follow-up
    expect(regime.workingSetTokens()).toBe(34 * 64);
    advance(30_000);
    regime.observe(range(200, 10));
    expect(regime.workingSetTokens()).toBe(44 * 64);
    // The first prompts leave the window; the later ones stay.
    advance(30_001);
    expect(regime.workingSetTokens()).toBe(10 * 64);
    advance(30_000);
    expect(regime.workingSetTokens()).toBe(0);
  });

  it('a block served again stays in the working set, refreshed at most every sixteenth of the window', () => {
    const { regime, advance } = setup();
    regime.observe([7]);
    for (let i = 0; i < 20; i++) {
      advance(10_000);
      regime.observe([7]);
    }
    expect(regime.workingSetTokens()).toBe(64);
    // Seen again within the refresh interval: not moved, so it leaves the window that much early.
    advance(1_000);
    regime.observe([7]);
    advance(59_500);
    expect(regime.workingSetTokens()).toBe(0);
  });

  it('fits while the working set is within the fraction of the smallest KV cache, then is under pressure', () => {
    const { regime } = setup();
    expect(regime.classify(caches(32_768, 65_536, 32_768))).toBe('fits');
    regime.observe(range(1, 256)); // 16,384 tokens: half of the smallest cache
    expect(regime.classify(caches(32_768, 65_536, 32_768))).toBe('fits');
    regime.observe([1000]);
    expect(regime.classify(caches(32_768, 65_536, 32_768))).toBe('pressure');
    // Only the smallest cache counts: any endpoint may be sent any prefix.
    expect(regime.classify(caches(1_000_000, 1_000_000))).toBe('fits');
    expect(regime.classify(caches(1_000_000, 32_768))).toBe('pressure');
  });

  it('is unknown when a candidate does not report its cache size, or there are none', () => {
    const { regime } = setup();
    expect(regime.classify(caches(32_768, undefined))).toBe('unknown');
    expect(regime.classify(caches(0))).toBe('unknown');
    expect(regime.classify([])).toBe('unknown');
  });

  it('goes back to fits when the pressure passes', () => {
    const { regime, advance } = setup();
    regime.observe(range(1, 600));
    expect(regime.classify(caches(32_768))).toBe('pressure');
    advance(45_000);
    regime.observe(range(1, 100));
    advance(20_000);
    expect(regime.workingSetTokens()).toBe(100 * 64);
    expect(regime.classify(caches(32_768))).toBe('fits');
  });

  it('stays bounded: past its block limit the working set is saturated and reads as pressure', () => {
    const { regime } = setup({ maxBlocks: 100, fitFraction: 1 });
    regime.observe(range(1, 500));
    expect(regime.workingSetTokens()).toBe(100 * 64);
    expect(regime.classify(caches(1e12))).toBe('pressure');
  });

  it('a fraction of 0 never fits', () => {
    const { regime } = setup({ fitFraction: 0 });
    regime.observe([1]);
    expect(regime.classify(caches(1e9))).toBe('pressure');
  });

  it('rejects impossible settings', () => {
    expect(() => setup({ fitFraction: -1 })).toThrow(RangeError);
    expect(() => setup({ blockTokens: 0 })).toThrow(RangeError);
    expect(() => setup({ windowMs: 0 })).toThrow(RangeError);
    expect(() => setup({ maxBlocks: 0 })).toThrow(RangeError);
  });
});

describe('loadFirst', () => {
  const score = (total: number, prefix: number): CandidateScore => ({ endpoint: '', total, queue: 0, kvCache: 0, prefix, resident: 0, staleLoad: false });

  it('admits the best load scores, and among them the longest match', () => {
    // Load totals (without the prefix part): 2, 2, 1.5, 2.
    const scores = [score(2.5, 0.5), score(2, 0), score(2.5, 1), score(2.5, 0.5)];
    const eligible = loadFirst(scores, 1, [2, 0, 4, 2], 1e-9);
    expect([0, 1, 2, 3].filter(eligible)).toEqual([0, 3]);
  });

  it('the prefix does not outweigh load: the busier holder of the whole prompt is not admitted', () => {
    const scores = [score(0.5 + 1, 1), score(1, 0)];
    expect([0, 1].filter(loadFirst(scores, 1, [8, 0], 1e-9))).toEqual([1]);
  });

  it('admits every equally loaded candidate when none holds the prompt', () => {
    const scores = [score(3, 0), score(3, 0), score(3, 0)];
    expect([0, 1, 2].filter(loadFirst(scores, 1, [0, 0, 0], 1e-9))).toEqual([0, 1, 2]);
  });
});
