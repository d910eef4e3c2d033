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

  it('gives a forgotten id to another name only once nothing refers to it any more', () => {
    const inUse = new Set<number>();
    const ids = new EndpointIds((marks) => {
      for (const id of inUse) marks[id] = 1;
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
});
