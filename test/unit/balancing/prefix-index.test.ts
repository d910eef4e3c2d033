import { describe, expect, it } from 'vitest';
import { PrefixIndex } from '../../../src/balancing/index.js';

function matchOf(index: PrefixIndex, blocks: number[], names: string[]): { longest: number; matched: number[] } {
  const matched = new Int32Array(names.length);
  const longest = index.match(blocks, names, matched);
  return { longest, matched: [...matched] };
}

describe('PrefixIndex', () => {
  it('finds how many leading blocks each endpoint served', () => {
    const index = new PrefixIndex({ capacity: 100, ttlMs: 60_000, now: () => 0 });
    index.record([1, 2, 3, 4], 'a');
    index.record([1, 2, 9], 'b');
    expect(matchOf(index, [1, 2, 3, 4, 5], ['a', 'b', 'c'])).toEqual({ longest: 4, matched: [4, 2, 0] });
    expect(matchOf(index, [1, 2, 9, 10], ['a', 'b'])).toEqual({ longest: 3, matched: [2, 3] });
    expect(matchOf(index, [7, 2, 3], ['a', 'b'])).toEqual({ longest: 0, matched: [0, 0] });
    // Only candidates count: an endpoint left out of this pick does not match.
    expect(matchOf(index, [1, 2, 3], ['b'])).toEqual({ longest: 2, matched: [2] });
  });

  it('is bounded: the least recently served blocks go first, a prompt’s first blocks last', () => {
    const index = new PrefixIndex({ capacity: 4, ttlMs: 60_000, now: () => 0 });
    index.record([1, 2, 3], 'a');
    index.record([10, 11], 'b');
    expect(index.size).toBe(4);
    // Block 3 (a's last, recorded first) was forgotten; a's first blocks remain.
    expect(matchOf(index, [1, 2, 3], ['a', 'b'])).toEqual({ longest: 2, matched: [2, 0] });
    expect(matchOf(index, [10, 11], ['a', 'b']).longest).toBe(2);
    index.record([1], 'a');
    index.record([20], 'c');
    // 1 was refreshed, so the oldest remaining (2, then 11) went.
    expect(matchOf(index, [1, 2], ['a']).matched).toEqual([1]);
    expect(index.size).toBe(4);
  });

  it('remembers a few endpoints per block, most recent first, and each claim expires', () => {
    let now = 0;
    const index = new PrefixIndex({ capacity: 100, ttlMs: 1_000, now: () => now });
    for (const name of ['a', 'b', 'c', 'd', 'e']) index.record([1], name);
    expect(matchOf(index, [1], ['a', 'b', 'c', 'd', 'e']).matched).toEqual([0, 1, 1, 1, 1]);
    now = 600;
    index.record([1], 'b');
    now = 1_200;
    expect(matchOf(index, [1], ['a', 'b', 'c', 'd', 'e']).matched).toEqual([0, 1, 0, 0, 0]);
  });

  it('an endpoint must hold every earlier block to match a later one', () => {
    const index = new PrefixIndex({ capacity: 100, ttlMs: 60_000, now: () => 0 });
    index.record([1, 2], 'a');
    index.record([5, 2], 'b'); // impossible with chained hashes, but the index must not count it
    expect(matchOf(index, [1, 2], ['a', 'b']).matched).toEqual([2, 0]);
  });

  it('does not move a block the same endpoint was just sent, but does once a second has passed', () => {
    let now = 0;
    const index = new PrefixIndex({ capacity: 3, ttlMs: 60_000, now: () => now });
    index.record([1], 'a');
    index.record([2, 3], 'b');
    // Within the second: block 1 keeps its place, the oldest, and goes first.
    now = 500;
    index.record([1], 'a');
    index.record([4], 'c');
    expect(matchOf(index, [1], ['a'])).toEqual({ longest: 0, matched: [0] });
    // After it: a repeat moves the block to the most recent end again, and it outlives two newer ones.
    index.record([1], 'a');
    index.record([6], 'c');
    now = 2_000;
    index.record([1], 'a');
    index.record([7], 'c');
    index.record([8], 'c');
    expect(matchOf(index, [1], ['a'])).toEqual({ longest: 1, matched: [1] });
  });

  it('an endpoint sent a block again moves to its front without a second claim; a fifth pushes out the oldest', () => {
    let now = 0;
    const index = new PrefixIndex({ capacity: 100, ttlMs: 1_000, now: () => now });
    for (const name of ['a', 'b', 'c', 'd']) index.record([1], name);
    now = 500;
    index.record([1], 'a'); // a again: still four claims, a's refreshed
    index.record([1], 'e'); // b, the oldest claim, goes
    expect(matchOf(index, [1], ['a', 'b', 'c', 'd', 'e']).matched).toEqual([1, 0, 1, 1, 1]);
    now = 1_200; // c and d (sent at 0) expired; a and e (sent at 500) not
    expect(matchOf(index, [1], ['a', 'b', 'c', 'd', 'e']).matched).toEqual([1, 0, 0, 0, 1]);
  });

  it('stays within its capacity however many blocks it is sent', () => {
    const index = new PrefixIndex({ capacity: 1_500, ttlMs: 60_000, now: () => 0 });
    for (let prompt = 0; prompt < 500; prompt++) index.record([prompt * 10, prompt * 10 + 1, prompt * 10 + 2, prompt * 10 + 3], `e${prompt % 7}`);
    expect(index.size).toBe(1_500);
    // The last 375 prompts remain, the earlier ones are forgotten.
    expect(matchOf(index, [4990, 4991, 4992, 4993], ['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6']).longest).toBe(4);
    expect(matchOf(index, [1240, 1241], ['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6']).longest).toBe(0);
  });

  it('matches by name when the candidates change, and names the index no longer holds give their ids to new ones', () => {
    const index = new PrefixIndex({ capacity: 1, ttlMs: 60_000, now: () => 0 });
    index.record([1], 'a');
    expect(matchOf(index, [1], ['a', 'b']).matched).toEqual([1, 0]);
    expect(matchOf(index, [1], ['b', 'a']).matched).toEqual([0, 1]);
    // 1,100 endpoints come and go (a reload renaming everything): only the last holds block 1.
    for (let i = 0; i < 1_100; i++) index.record([1], `renamed-${i}`);
    expect(matchOf(index, [1], ['a', 'renamed-1099', 'renamed-0']).matched).toEqual([0, 1, 0]);
    index.record([2], 'a');
    expect(matchOf(index, [2], ['renamed-1099', 'a']).matched).toEqual([0, 1]);
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new PrefixIndex({ capacity: 0, ttlMs: 1 })).toThrow(RangeError);
  });
});
