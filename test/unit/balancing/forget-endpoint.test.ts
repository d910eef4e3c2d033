import { describe, expect, it } from 'vitest';
import { EndpointIds } from '../../../src/balancing/endpoint-ids.js';
import { PrefixIndex } from '../../../src/balancing/index.js';

/** A name kept by a reload for another backend (its URL changed): what the index learnt of the old one is dropped. */
describe('forgetting an endpoint name', () => {
  it("drops the name's prefix claims and keeps the others'; the name claims afresh", () => {
    const index = new PrefixIndex({ capacity: 100, ttlMs: 60_000, now: () => 0 });
    index.record([1, 2, 3], 'a');
    index.record([1, 2, 3], 'b');
    const matched = new Int32Array(2);
    const names = ['a', 'b'];
    expect(index.match([1, 2, 3], names, matched)).toBe(3);
    expect([...matched]).toEqual([3, 3]);

    index.forget('a');
    expect(index.match([1, 2, 3], names, matched)).toBe(3);
    expect([...matched]).toEqual([0, 3]);
    index.record([1], 'a');
    index.match([1, 2, 3], names, matched);
    expect([...matched]).toEqual([1, 3]);
  });

  it("a flapping endpoint's dead claims do not push a steady endpoint's claim off a block", () => {
    let now = 0;
    const index = new PrefixIndex({ capacity: 100, ttlMs: 60_000, now: () => now });
    index.record([1, 2], 'steady');
    // Goes down (its claims die) and comes back, ten times, served the same prompt each time.
    for (let flap = 0; flap < 10; flap++) {
      now += 10;
      index.record([1, 2], 'flapping');
      index.forget('flapping');
    }
    const matched = new Int32Array(2);
    expect(index.match([1, 2], ['steady', 'flapping'], matched)).toBe(2);
    expect([...matched]).toEqual([2, 0]);
  });

  it('gives a forgotten id to another name only once nothing refers to it any more', () => {
    const inUse = new Set<number>();
    const ids = new EndpointIds({
      drop: () => {},
      mark: (marks) => {
        for (const id of inUse) marks[id] = 1;
      },
    });
    const old = ids.assign('a');
    inUse.add(old);
    const version = ids.version;
    ids.forget('a');
    expect(ids.version).not.toBe(version);
    expect(ids.idOf('a')).toBeUndefined();
    const again = ids.assign('a');
    expect(again).not.toBe(old);
    inUse.add(again);
    // Past 1,024 names a sweep runs: the forgotten id, still held, is not handed out ...
    const handed = new Set<number>();
    for (let i = 0; i < 1100; i++) handed.add(ids.assign(`n-${i}`));
    expect(handed.has(old)).toBe(false);
    // ... until nothing holds it.
    inUse.delete(old);
    const later = new Set<number>();
    for (let i = 0; i < 2300; i++) later.add(ids.assign(`m-${i}`));
    expect(later.has(old)).toBe(true);
  });

  it('an endpoint that keeps going down and up: its old claims never match, not even under a reused id', () => {
    const index = new PrefixIndex({ capacity: 1000, ttlMs: 60_000, now: () => 0 });
    index.record([20, 21], 'b');
    const matched = new Int32Array(3);
    const matches = (blocks: number[], names: string[]) => {
      index.match(blocks, names, matched);
      return [...matched];
    };
    for (let flap = 0; flap < 2_000; flap++) {
      // Up: 'a' is sent one prompt; a name seen once (a pod gone since) another.
      index.record([1, 2, 3], 'a');
      const passer = `pod-${flap}`;
      index.record([7, 8, 9], passer);
      expect(matches([1, 2, 3], ['a', 'b', passer])).toEqual([3, 0, 0]);
      expect(matches([7, 8, 9], ['a', 'b', passer])).toEqual([0, 0, 3]);
      // Down: both forgotten. Whatever ids they held go to later names, which hold none of this.
      index.forget('a');
      index.forget(passer);
      expect(matches([1, 2, 3], ['a', 'b', passer])).toEqual([0, 0, 0]);
      expect(matches([7, 8, 9], ['a', 'b', passer])).toEqual([0, 0, 0]);
      expect(matches([20, 21], ['a', 'b', passer])).toEqual([0, 2, 0]);
    }
    index.record([5], 'fresh');
    expect(matches([1, 2, 3], ['fresh', 'b', 'a'])).toEqual([0, 0, 0]);
    expect(matches([7, 8, 9], ['fresh', 'b', 'a'])).toEqual([0, 0, 0]);
    expect(matches([20, 21], ['fresh', 'b', 'a'])).toEqual([0, 2, 0]);
  });

  it('once forgotten claims are swept from a block, the others keep their order and their times', () => {
    let now = 0;
    const index = new PrefixIndex({ capacity: 1000, ttlMs: 100, now: () => now });
    index.record([1, 2], 'b');
    now = 1;
    index.record([1, 2], 'a');
    index.forget('a');
    now = 2;
    index.record([1, 2], 'c');
    // Names passing through, forgotten: enough for the next new name to sweep the ids.
    for (let i = 0; i < 70; i++) {
      index.record([1_000 + i], `pod-${i}`);
      index.forget(`pod-${i}`);
    }
    index.record([9], 'd');
    const matched = new Int32Array(3);
    expect(index.match([1, 2], ['b', 'c', 'd'], matched)).toBe(2);
    expect([...matched]).toEqual([2, 2, 0]);
    // b's claim is the older one: past its TTL before c's.
    now = 101;
    index.match([1, 2], ['b', 'c', 'd'], matched);
    expect([...matched]).toEqual([0, 2, 0]);
    index.record([1, 2], 'd');
    index.match([1, 2], ['b', 'c', 'd'], matched);
    expect([...matched]).toEqual([0, 2, 2]);
  });
});
