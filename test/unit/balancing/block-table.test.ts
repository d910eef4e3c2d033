import { describe, expect, it } from 'vitest';
import { LruBlockTable } from '../../../src/balancing/block-table.js';

const held = (table: LruBlockTable, keys: number[]) => keys.filter((key) => table.find(key) !== -1);

describe('LruBlockTable', () => {
  it('finds what it holds, in slots numbered from 0', () => {
    const table = new LruBlockTable(10, () => {});
    expect(table.find(5)).toBe(-1);
    expect([table.insert(5), table.insert(2 ** 52 + 7), table.insert(0)]).toEqual([0, 1, 2]);
    expect([table.find(5), table.find(2 ** 52 + 7), table.find(0), table.find(6)]).toEqual([0, 1, 2, -1]);
    expect(table.size).toBe(3);
  });

  it('when full, forgets the least recently used block and reuses its slot', () => {
    const table = new LruBlockTable(3, () => {});
    table.insert(1);
    table.insert(2);
    table.insert(3);
    table.touch(table.find(1));
    expect(table.insert(4)).toBe(1); // 2's slot
    expect(held(table, [1, 2, 3, 4])).toEqual([1, 3, 4]);
    table.insert(5); // then 3
    table.insert(6); // then 1
    expect(held(table, [1, 2, 3, 4, 5, 6])).toEqual([4, 5, 6]);
    expect(table.size).toBe(3);
  });

  it('removes blocks from the oldest end, and hands their slots out again before new ones', () => {
    const table = new LruBlockTable(4, () => {});
    for (const key of [10, 11, 12]) table.insert(key);
    table.touch(table.find(10));
    expect(table.oldest()).toBe(table.find(11));
    table.remove(table.oldest());
    table.remove(table.oldest());
    expect(held(table, [10, 11, 12])).toEqual([10]);
    expect(table.size).toBe(1);
    expect(table.oldest()).toBe(table.find(10));
    // The freed slots (12's, then 11's) come back before the never-used slot 3.
    expect([table.insert(13), table.insert(14), table.insert(15)]).toEqual([2, 1, 3]);
    expect(table.size).toBe(4);
    // Full again: the least recently used block (10) goes first.
    expect(table.insert(16)).toBe(0);
    expect(held(table, [10, 13, 14, 15, 16])).toEqual([13, 14, 15, 16]);
    table.remove(table.find(16));
    table.remove(table.find(14));
    expect(held(table, [13, 14, 15, 16])).toEqual([13, 15]);
    table.remove(table.oldest());
    table.remove(table.oldest());
    expect(table.size).toBe(0);
    expect(table.oldest()).toBe(-1);
  });

  it('keeps what it holds when its storage grows after removals', () => {
    const table = new LruBlockTable(5000, () => {});
    for (let key = 0; key < 1024; key++) table.insert(key * 7919);
    for (let i = 0; i < 100; i++) table.remove(table.oldest());
    for (let key = 1024; key < 2100; key++) table.insert(key * 7919);
    expect(table.size).toBe(2100 - 100);
    for (let key = 0; key < 2100; key++) expect(table.find(key * 7919) !== -1).toBe(key >= 100);
  });

  it('touching the most recent block, or every block in turn, keeps the order consistent', () => {
    const table = new LruBlockTable(2, () => {});
    table.insert(1);
    table.touch(table.find(1));
    table.insert(2);
    table.touch(table.find(2));
    table.touch(table.find(1));
    table.insert(3);
    expect(held(table, [1, 2, 3])).toEqual([1, 3]);
  });

  it('keys in the same bucket are told apart and removed exactly', () => {
    // Capacity 1: one slot, reused on every insert.
    const table = new LruBlockTable(1, () => {});
    for (let key = 0; key < 100; key++) table.insert(key * 2 ** 32);
    expect(held(table, [0, 98 * 2 ** 32, 99 * 2 ** 32])).toEqual([99 * 2 ** 32]);
  });

  it('grows its storage by doubling up to the capacity, keeping every block and the order', () => {
    const grownTo: number[] = [];
    const table = new LruBlockTable(3000, (slots) => grownTo.push(slots));
    for (let key = 0; key < 3000; key++) table.insert(key);
    expect(grownTo).toEqual([1024, 2048, 3000]);
    expect(held(table, [0, 1023, 1024, 2999])).toEqual([0, 1023, 1024, 2999]);
    table.touch(table.find(0));
    table.insert(3000);
    expect(held(table, [0, 1, 2, 3000])).toEqual([0, 2, 3000]);
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new LruBlockTable(0, () => {})).toThrow(RangeError);
    expect(() => new LruBlockTable(1.5, () => {})).toThrow(RangeError);
  });
});
