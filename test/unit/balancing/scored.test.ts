import { describe, expect, it } from 'vitest';
import { createSelector, type Candidate, type LoadLookup, type PickContext, type RouteDecision, type Selector } from '../../../src/balancing/index.js';
import type { LoadFacts } from '../../../src/load/index.js';
import { candidate, weighted } from './support.js';

const facts = (overrides: Partial<LoadFacts>): LoadFacts => ({ requests: undefined, kvUsage: undefined, tokens: 0, resident: undefined, stale: false, ...overrides });
const lookup = (table: Record<string, Partial<LoadFacts>>): LoadLookup => (name) => facts(table[name] ?? {});
const prompt = (...blocks: number[]): PickContext => ({ prompt: { blocks, tokens: blocks.length * 64 } });

/** A pick as the proxy makes it: decided, then sent there (which is what teaches the prefix index). */
function routed<T extends Candidate>(selector: Selector, pool: readonly T[], ctx?: PickContext): RouteDecision<T> {
  const decision = selector.decide(pool, ctx)!;
  selector.sent(decision.endpoint.name, ctx);
  return decision;
}

describe('load-aware', () => {
  it('prefers the shortest backend queue, whatever Sluice itself has in flight', () => {
    const pool = [candidate('a', { activeConnections: 0 }), candidate('b', { activeConnections: 5 }), candidate('c')];
    const selector = createSelector('load-aware', { load: lookup({ a: { requests: 12, kvUsage: 0.3 }, b: { requests: 1, kvUsage: 0.3 }, c: { requests: 6, kvUsage: 0.3 } }) });
    const decision = selector.decide(pool)!;
    expect(decision.endpoint.name).toBe('b');
    expect(decision.reason).toBe('load');
    expect(decision.scores!().map((s) => s.endpoint)).toEqual(['a', 'b', 'c']);
    expect(decision.scores!()[1]!.queue).toBe(1);
  });

  it('weighs KV-cache usage against queue depth by the configured weights', () => {
    const pool = weighted(1, 1);
    const load = lookup({ a: { requests: 2, kvUsage: 0.95 }, b: { requests: 3, kvUsage: 0.1 } });
    expect(createSelector('load-aware', { load }).select(pool)!.name).toBe('b');
    expect(createSelector('load-aware', { load, weights: { queue: 1, kvCache: 0, prefix: 0, resident: 0 } }).select(pool)!.name).toBe('a');
  });

  it('prefers an endpoint where the model is loaded now; a lower weight lets load spill to cold ones', () => {
    const pool = weighted(1, 1);
    const ctx: PickContext = { model: 'llama3:latest' };
    const load = lookup({ a: { requests: 0, resident: false }, b: { requests: 30, resident: true } });
    // At the default weights the queue score (at most 1 apart) never outweighs residency.
    expect(createSelector('load-aware', { load }).select(pool, ctx)!.name).toBe('b');
    const spill = { queue: 1, kvCache: 1, prefix: 1, resident: 0.25 };
    expect(createSelector('load-aware', { load, weights: spill }).select(pool, ctx)!.name).toBe('a');
    const near = lookup({ a: { requests: 3, resident: false }, b: { requests: 3, resident: true } });
    expect(createSelector('load-aware', { load: near, weights: spill }).select(pool, ctx)!.name).toBe('b');
  });

  it('falls back to Sluice’s own counts for an endpoint whose data is stale, and says so', () => {
    const pool = [candidate('a', { activeConnections: 9 }), candidate('b', { activeConnections: 0 })];
    // a's backend last said it was idle, but that report is stale: its 9 requests in flight count.
    const selector = createSelector('load-aware', { load: lookup({ a: { stale: true }, b: { requests: 2 } }) });
    const decision = selector.decide(pool)!;
    expect(decision.endpoint.name).toBe('b');
    expect(decision.scores!().map((s) => s.staleLoad)).toEqual([true, false]);
  });

  it('scores every candidate on Sluice’s own counts when one has no backend count, as the KV-cache scorer does', () => {
    // Two replicas send the same load. a's backend counts both replicas' 5 requests; b has no
    // load source, so only this replica's 5 are known there. Scored as 10 against 5, b took all.
    const pool = [candidate('a', { activeConnections: 5 }), candidate('b', { activeConnections: 5 })];
    const selector = createSelector('load-aware', { load: lookup({ a: { requests: 10 } }) });
    const decision = selector.decide(pool)!;
    expect(decision.scores!().map((s) => s.queue)).toEqual([1, 1]);
    expect(Array.from({ length: 10 }, () => selector.select(pool)!.name).sort().join('')).toBe('aaaaabbbbb');
  });

  it('keeps a stale backend count (the board’s floor) comparable with fresh ones', () => {
    // a's last report, stale now, still says 12: its engine may be too busy to answer. Sluice's
    // own counts (0 there, 5 on b) would send the request to a.
    const pool = [candidate('a', { activeConnections: 0 }), candidate('b', { activeConnections: 5 })];
    const selector = createSelector('load-aware', { load: lookup({ a: { requests: 12, stale: true }, b: { requests: 5 } }) });
    const decision = selector.decide(pool)!;
    expect(decision.endpoint.name).toBe('b');
    expect(decision.scores!().map((s) => s.queue)).toEqual([6 / 13, 1]);
  });

  it('does not let KV usage closer than one prompt decide between equal queues: such endpoints rotate', () => {
    // Two requests each. a's and b's are decoding and hold their prompts and some output; c's
    // were sent last, are still being prefilled and hold their prompts only, so c looks
    // emptiest. Ranked strictly, c (where a new prompt waits longest) took every new prompt.
    const pool = weighted(1, 1, 1);
    const capacity = 32_768;
    const load = lookup({
      a: { requests: 2, kvUsage: 4_420 / capacity, kvCapacityTokens: capacity },
      b: { requests: 2, kvUsage: 4_400 / capacity, kvCapacityTokens: capacity },
      c: { requests: 2, kvUsage: 4_350 / capacity, kvCapacityTokens: capacity },
    });
    const ctx: PickContext = { prompt: { blocks: [], tokens: 2_200 } };
    const selector = createSelector('load-aware', { load });
    const first = selector.decide(pool, ctx)!;
    expect(new Set(first.scores!().map((s) => s.kvCache)).size).toBe(1);
    expect(Array.from({ length: 6 }, () => selector.select(pool, ctx)!.name).sort().join('')).toBe('aabbcc');
  });

  it('still prefers the endpoint with more KV room when the difference exceeds the prompt', () => {
    const pool = weighted(1, 1);
    const capacity = 32_768;
    const load = lookup({ a: { requests: 2, kvUsage: 0.5, kvCapacityTokens: capacity }, b: { requests: 2, kvUsage: 0.2, kvCapacityTokens: capacity } });
    const selector = createSelector('load-aware', { load });
    const ctx: PickContext = { prompt: { blocks: [], tokens: 2_048 } };
    expect(Array.from({ length: 4 }, () => selector.select(pool, ctx)!.name).join('')).toBe('bbbb');
    const decision = selector.decide(pool, ctx)!;
    expect(decision.scores!()[0]!.kvCache).toBeCloseTo(1 - (0.5 - 2_048 / capacity), 10);
    expect(decision.scores!()[1]!.kvCache).toBeCloseTo(0.8, 10);
  });

  it('without any load data behaves like least-connections and rotates idle endpoints', () => {
    const selector = createSelector('load-aware');
    const pool = weighted(1, 1, 1);
    expect(Array.from({ length: 6 }, () => selector.select(pool)!.name).join('')).toBe('abcabc');
    pool[0]!.activeConnections = 3;
    pool[1]!.activeConnections = 1;
    expect(selector.select(pool)!.name).toBe('c');
  });
});

describe('prefix-aware', () => {
  const options = { prefix: { indexSize: 1000, ttlMs: 60_000, maxImbalanceRatio: 1.5, maxImbalanceRequests: 4 }, now: () => 0 };

  it('sends a prompt to the endpoint that served its longest prefix', () => {
    const selector = createSelector('prefix-aware', options);
    const pool = weighted(1, 1, 1, 1);
    const first = routed(selector, pool, prompt(1, 2, 3))!;
    expect(first).toMatchObject({ reason: 'prefix_hash', prefixHit: false });
    for (let turn = 0; turn < 5; turn++) {
      const next = routed(selector, pool, prompt(1, 2, 3, 4 + turn))!;
      expect(next.endpoint).toBe(first.endpoint);
      expect(next.reason).toBe('prefix_match');
      expect(next.prefixBlocks).toBe(3);
      expect(next.prefixHit).toBe(true);
    }
    expect(selector.prefixIndex!.size).toBe(8);
  });

  it('learns a prompt only where it is sent: a decision given up claims nothing', () => {
    const selector = createSelector('prefix-aware', options);
    const pool = weighted(1, 1, 1);
    const given = selector.decide(pool, prompt(1, 2, 3))!;
    expect(selector.prefixIndex!.size).toBe(0);
    // The caller sent it elsewhere (the pick's half-open trial was taken): that endpoint holds the prompt.
    const elsewhere = pool.filter((c) => c !== given.endpoint);
    const sentTo = selector.decide(elsewhere, prompt(1, 2, 3))!.endpoint;
    selector.sent(sentTo.name, prompt(1, 2, 3));
    expect(selector.decide(pool, prompt(1, 2, 3, 4))!).toMatchObject({ endpoint: sentTo, reason: 'prefix_match', prefixBlocks: 3 });
  });

  it('spreads unrelated prompts by rendezvous hash of their first block', () => {
    const selector = createSelector('prefix-aware', options);
    const pool = weighted(1, 1, 1, 1);
    const counts = new Map<string, number>();
    for (let key = 0; key < 400; key++) {
      const name = selector.select(pool, prompt(key * 7919 + 1))!.name;
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    expect([...counts.values()].every((n) => n > 60)).toBe(true);
  });

  it('two selectors that share nothing make the same choice for the same prompt', () => {
    const pool = weighted(1, 2, 1, 3, 1);
    const one = createSelector('prefix-aware', options);
    const two = createSelector('prefix-aware', options);
    for (let key = 1; key < 200; key++) {
      expect(one.select(pool, prompt(key * 104_729, 5))!.name).toBe(two.select(pool, prompt(key * 104_729, 6))!.name);
    }
  });

  it('gives the prefix up when its endpoint is busier than the least loaded by both margins', () => {
    const table: Record<string, Partial<LoadFacts>> = { a: { requests: 0 }, b: { requests: 0 } };
    const selector = createSelector('prefix-aware', { ...options, load: (name) => facts(table[name] ?? {}) });
    const pool = weighted(1, 1);
    const home = selector.select(pool, prompt(42))!.name;
    const other = home === 'a' ? 'b' : 'a';
    // 5 more than the least loaded but not 1.5 times as many: stay.
    table[home] = { requests: 15 };
    table[other] = { requests: 10 };
    expect(routed(selector, pool, prompt(42, 43))!).toMatchObject({ endpoint: { name: home }, reason: 'prefix_match' });
    // Both margins passed: the scores choose.
    table[home] = { requests: 16 };
    table[other] = { requests: 2 };
    expect(routed(selector, pool, prompt(42, 44))!).toMatchObject({ endpoint: { name: other }, reason: 'prefix_imbalance' });
    // Within 4 requests of the least loaded nothing moves, even at twice its load.
    table[home] = { requests: 4 };
    table[other] = { requests: 0 };
    expect(routed(selector, pool, prompt(42))!.reason).toBe('prefix_match');
  });

  it('does not give the prefix up on counts of unlike kinds: the backend’s against another endpoint’s Sluice-only count', () => {
    const table: Record<string, Partial<LoadFacts>> = {};
    const selector = createSelector('prefix-aware', { ...options, load: (name) => facts(table[name] ?? {}) });
    const pool = [candidate('a', { activeConnections: 3 }), candidate('b', { activeConnections: 3 })];
    const home = selector.select(pool, prompt(42))!.name;
    // The backend counts 16 there, every replica's, with one waiting; the other endpoint has no
    // load source, and this replica has as many requests in flight on each.
    table[home] = { requests: 16, waiting: 1 };
    expect(routed(selector, pool, prompt(42, 43))!).toMatchObject({ endpoint: { name: home }, reason: 'prefix_match' });
  });

  it('keeps the prefix past both margins while its backend reports nothing waiting', () => {
    const table: Record<string, Partial<LoadFacts>> = { a: { requests: 0, waiting: 0 }, b: { requests: 0, waiting: 0 } };
    const selector = createSelector('prefix-aware', { ...options, load: (name) => facts(table[name] ?? {}) });
    const pool = weighted(1, 1);
    const home = selector.select(pool, prompt(42, 43, 44))!.name;
    const other = home === 'a' ? 'b' : 'a';
    // Sixteen requests against two, all scheduled: a new one starts at the next step where its
    // prompt is cached, rather than being prefilled in full on the idle endpoint.
    table[home] = { requests: 16, waiting: 0 };
    table[other] = { requests: 2, waiting: 0 };
    expect(routed(selector, pool, prompt(42, 43, 44, 45))!).toMatchObject({ endpoint: { name: home }, reason: 'prefix_match', prefixBlocks: 3 });
    // Requests queue there: the scores choose.
    table[home] = { requests: 16, waiting: 1 };
    expect(routed(selector, pool, prompt(42, 43, 44, 46))!).toMatchObject({ endpoint: { name: other }, reason: 'prefix_imbalance' });
    // A queue within the margins does not move it either (45 is known on the prefix endpoint only).
    table[home] = { requests: 5, waiting: 3 };
    table[other] = { requests: 4, waiting: 0 };
    expect(routed(selector, pool, prompt(42, 43, 44, 45, 47))!).toMatchObject({ endpoint: { name: home }, reason: 'prefix_match', prefixBlocks: 4 });
  });

  it('without a prompt it scores like load-aware; a sticky key wins and teaches the index', () => {
    const selector = createSelector('prefix-aware', { ...options, sticky: { maxLoadFactor: 1.25 } });
    const pool = weighted(1, 1, 1);
    expect(routed(selector, pool)!.reason).toBe('load');
    const sticky = routed(selector, pool, { stickyKey: 'user-1', ...prompt(77, 78) })!;
    expect(sticky.reason).toBe('sticky');
    expect(routed(selector, pool, prompt(77, 78, 79))!).toMatchObject({ endpoint: sticky.endpoint, reason: 'prefix_match' });
  });

  describe('by cache regime', () => {
    const KV = 32_768;
    // 64 tokens a block: 256 blocks are half of a 32,768-token cache.
    const regimeOptions = (table: Record<string, Partial<LoadFacts>>, now: () => number) => ({
      prefix: { indexSize: 10_000, ttlMs: 600_000, maxImbalanceRatio: 1.5, maxImbalanceRequests: 2, fitFraction: 0.5, blockTokens: 64 },
      load: (name: string) => facts({ kvCapacityTokens: KV, ...table[name] }),
      now,
    });
    const system = Array.from({ length: 32 }, (_, i) => 1 + i);

    it('while the recent prompts fit every cache, follows the prefix on an idle fleet', () => {
      const table: Record<string, Partial<LoadFacts>> = { a: { requests: 0 }, b: { requests: 0 }, c: { requests: 0 } };
      const selector = createSelector('prefix-aware', regimeOptions(table, () => 0));
      const pool = weighted(1, 1, 1);
      const first = routed(selector, pool, prompt(...system))!;
      expect(first).toMatchObject({ reason: 'prefix_hash', prefixHit: false });
      const home = first.endpoint.name;
      for (let turn = 0; turn < 3; turn++) {
        expect(routed(selector, pool, prompt(...system, 500 + turn))!).toMatchObject({ endpoint: { name: home }, reason: 'prefix_match', prefixHit: true, prefixBlocks: 32 });
      }
    });

    it('while the recent prompts fit, follows the prefix at equal requests even when the KV scores prefer another endpoint', () => {
      const table: Record<string, Partial<LoadFacts>> = { a: { requests: 0 }, b: { requests: 0 }, c: { requests: 0 } };
      const selector = createSelector('prefix-aware', regimeOptions(table, () => 0));
      const pool = weighted(1, 1, 1);
      const home = routed(selector, pool, prompt(...system))!.endpoint.name;
      for (const name of ['a', 'b', 'c']) table[name] = { requests: 2, kvUsage: name === home ? 0.6 : 0.1 };
      const next = routed(selector, pool, prompt(...system, 500))!;
      expect(next).toMatchObject({ endpoint: { name: home }, reason: 'prefix_match' });
      // Without the prefix part, the load scores would have chosen elsewhere.
      const loadTotal = (s: { total: number; prefix: number }) => s.total - s.prefix;
      const scores = next.scores!();
      const homeScore = scores.find((s) => s.endpoint === home)!;
      expect(scores.some((s) => s.endpoint !== home && loadTotal(s) > loadTotal(homeScore))).toBe(true);
    });

    it('while the recent prompts fit, a queue on the prefix endpoint moves the request to the least loaded', () => {
      const table: Record<string, Partial<LoadFacts>> = { a: { requests: 0 }, b: { requests: 0 }, c: { requests: 0 } };
      const selector = createSelector('prefix-aware', regimeOptions(table, () => 0));
      const pool = weighted(1, 1, 1);
      const home = routed(selector, pool, prompt(...system))!.endpoint.name;
      const [idle, busy] = ['a', 'b', 'c'].filter((name) => name !== home);
      // One request more than the least loaded (within max_imbalance_requests, so pressure would stay).
      table[home] = { requests: 1 };
      table[idle!] = { requests: 0 };
      table[busy!] = { requests: 2 };
      expect(routed(selector, pool, prompt(...system, 501))!).toMatchObject({ endpoint: { name: idle }, reason: 'prefix_fits', prefixHit: true, prefixBlocks: 0 });
      // Back to level: the prefix is followed again (the index now knows both endpoints).
      table[home] = { requests: 0 };
      expect(routed(selector, pool, prompt(...system, 502))!).toMatchObject({ reason: 'prefix_match', prefixBlocks: 32 });
    });

    it('while the recent prompts fit, a new prompt goes to its rendezvous choice unless that one has a queue', () => {
      const pool = weighted(1, 1, 1);
      const fresh = prompt(...Array.from({ length: 8 }, (_, i) => 9_000 + i));
      const idle = createSelector('prefix-aware', regimeOptions({}, () => 0)).decide(pool, fresh)!;
      expect(idle.reason).toBe('prefix_hash');
      const target = idle.endpoint.name;
      const table: Record<string, Partial<LoadFacts>> = { a: { requests: 0 }, b: { requests: 0 }, c: { requests: 0 }, [target]: { requests: 1 } };
      const selector = createSelector('prefix-aware', regimeOptions(table, () => 0));
      const moved = routed(selector, pool, fresh)!;
      expect(moved).toMatchObject({ reason: 'prefix_fits', prefixHit: false });
      expect(moved.endpoint.name).not.toBe(target);
    });

    it('under cache pressure follows the prefix as before', () => {
      const table: Record<string, Partial<LoadFacts>> = { a: { requests: 0 }, b: { requests: 0 }, c: { requests: 0 } };
      const selector = createSelector('prefix-aware', regimeOptions(table, () => 0));
      const pool = weighted(1, 1, 1);
      // 300 distinct blocks of other tenants: 19,200 tokens, over half of each cache.
      for (let tenant = 0; tenant < 10; tenant++) routed(selector, pool, prompt(...Array.from({ length: 30 }, (_, i) => 10_000 * (tenant + 1) + i)));
      const first = routed(selector, pool, prompt(...system))!;
      expect(first.reason).toBe('prefix_hash');
      // Within max_imbalance_requests (2) of the least loaded: the prefix is kept.
      table[first.endpoint.name] = { requests: 2 };
      expect(routed(selector, pool, prompt(...system, 500))!).toMatchObject({ endpoint: first.endpoint, reason: 'prefix_match' });
      // Past it (and past the ratio): the scores choose, the prefix score among them.
      table[first.endpoint.name] = { requests: 3 };
      expect(routed(selector, pool, prompt(...system, 501))!.reason).toBe('prefix_imbalance');
    });

    it('returns to the fits rule once the old prompts leave the working-set window', () => {
      let now = 0;
      const table: Record<string, Partial<LoadFacts>> = { a: { requests: 0 }, b: { requests: 0 } };
      const selector = createSelector('prefix-aware', regimeOptions(table, () => now));
      const pool = weighted(1, 1);
      routed(selector, pool, prompt(...Array.from({ length: 300 }, (_, i) => 50_000 + i)));
      const first = routed(selector, pool, prompt(...system))!;
      expect(first.reason).toBe('prefix_hash');
      table[first.endpoint.name] = { requests: 1 };
      expect(routed(selector, pool, prompt(...system, 500))!).toMatchObject({ endpoint: first.endpoint, reason: 'prefix_match' });
      now += 61_000;
      const moved = routed(selector, pool, prompt(...system, 501))!;
      expect(moved.reason).toBe('prefix_fits');
      expect(moved.endpoint.name).not.toBe(first.endpoint.name);
    });

    it('keeps affinity when some candidate does not report its KV-cache size', () => {
      const table: Record<string, Partial<LoadFacts>> = { b: { kvCapacityTokens: undefined } };
      const selector = createSelector('prefix-aware', regimeOptions(table, () => 0));
      const pool = weighted(1, 1);
      const first = routed(selector, pool, prompt(...system))!;
      expect(first.reason).toBe('prefix_hash');
      table[first.endpoint.name] = { ...table[first.endpoint.name], requests: 1 };
      expect(routed(selector, pool, prompt(...system, 500))!).toMatchObject({ endpoint: first.endpoint, reason: 'prefix_match' });
    });
  });
});
