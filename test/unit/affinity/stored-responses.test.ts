import { describe, expect, it } from 'vitest';
import { StoredResponses } from '../../../src/affinity/index.js';

const A = { endpoint: 'a', backend: 'http://127.0.0.1:9000/' };
const B = { endpoint: 'b', backend: 'http://127.0.0.1:9001/' };

describe('stored responses', () => {
  it('remembers which endpoint created a response until it is deleted', () => {
    const stored = new StoredResponses({ maxIds: 10, ttlMs: 60_000, now: () => 0 });
    stored.remember('resp_1', A);
    stored.remember('resp_2', B);
    expect(stored.owner('resp_1')).toEqual(A);
    expect(stored.owner('resp_2')).toEqual(B);
    expect(stored.owner('resp_3')).toBeUndefined();
    stored.forget('resp_1');
    expect(stored.owner('resp_1')).toBeUndefined();
    expect(stored.size).toBe(1);
  });

  it('forgets the least recently used ids first, a follow-up counting as a use', () => {
    const stored = new StoredResponses({ maxIds: 2, ttlMs: 60_000, now: () => 0 });
    stored.remember('resp_1', A);
    stored.remember('resp_2', B);
    expect(stored.owner('resp_1')).toEqual(A);
    stored.remember('resp_3', B);
    expect(stored.owner('resp_2')).toBeUndefined();
    expect(stored.owner('resp_1')).toEqual(A);
    expect(stored.owner('resp_3')).toEqual(B);
  });

  it('forgets an id not used for the TTL; each use starts it again', () => {
    let now = 1000;
    const stored = new StoredResponses({ maxIds: 10, ttlMs: 60_000, now: () => now });
    stored.remember('resp_1', A);
    stored.remember('resp_2', B);
    now += 50_000;
    expect(stored.owner('resp_1')).toEqual(A);
    now += 20_000;
    expect(stored.owner('resp_1')).toEqual(A);
    expect(stored.owner('resp_2')).toBeUndefined();
  });

  it('carries what it knows into a map of other settings, the most recent first; the same settings keep the map', () => {
    const stored = new StoredResponses({ maxIds: 3, ttlMs: 60_000, now: () => 0 });
    expect(stored.withOptions({ maxIds: 3, ttlMs: 60_000, now: () => 0 })).toBe(stored);
    for (const id of ['resp_1', 'resp_2', 'resp_3']) stored.remember(id, A);
    stored.owner('resp_1');
    const smaller = stored.withOptions({ maxIds: 2, ttlMs: 60_000, now: () => 0 });
    expect(smaller.size).toBe(2);
    expect(smaller.owner('resp_1')).toEqual(A);
    expect(smaller.owner('resp_3')).toEqual(A);
    expect(smaller.owner('resp_2')).toBeUndefined();
    // Least recently used first (resp_1 was used last).
    expect(stored.entries().map(([id]) => id)).toEqual(['resp_2', 'resp_3', 'resp_1']);
  });

  it('refuses a size below one', () => {
    expect(() => new StoredResponses({ maxIds: 0, ttlMs: 1000 })).toThrow(RangeError);
  });
});
