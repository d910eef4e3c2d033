import { describe, expect, it } from 'vitest';
import { openBucketStore, RateLimiters, type BucketStore } from '../../../src/access/index.js';
import type { RateLimitsConfig } from '../../../src/config/index.js';

const limits = (over: Partial<RateLimitsConfig> = {}): RateLimitsConfig => ({ rate: 1, period: 60_000, burst: 3, by: 'key', redis_url: 'redis://127.0.0.1:6379', redis_timeout: 200, ...over });

/** A store standing in for a Redis connection: ready when the test says so. */
class FakeStore implements BucketStore {
  isReady = false;
  closed = false;
  readonly #waiters: Array<() => void> = [];
  constructor(readonly url: string | null) {}
  ready(): Promise<void> {
    return this.isReady ? Promise.resolve() : new Promise((resolve) => this.#waiters.push(resolve));
  }
  connect(): void {
    this.isReady = true;
    this.#waiters.splice(0).forEach((resolve) => resolve());
  }
  consume() {
    return { allowed: true, remaining: 0, waitMs: 1 };
  }
  close(): void {
    this.closed = true;
  }
}

function fakeLimiters() {
  const opened: FakeStore[] = [];
  const limiters = new RateLimiters((cfg) => {
    const store = new FakeStore(cfg.redis_url);
    opened.push(store);
    return store;
  });
  return { limiters, opened };
}

/** Lets the promise callbacks that were due run (no timers involved). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the rate limiter across reloads', () => {
  it('a reload that changes only the bucket keeps the Redis connection: no new store, none closed', async () => {
    const { limiters, opened } = fakeLimiters();
    limiters.apply(limits());
    opened[0]!.connect();
    await settle();
    expect(limiters.current?.limit).toBe(3);

    limiters.apply(limits({ rate: 2, burst: 5, by: 'address' }));
    expect(opened).toHaveLength(1);
    expect(opened[0]!.closed).toBe(false);
    // The new bucket applies at once, over the same connection.
    expect(limiters.current?.limit).toBe(5);
    expect((await limiters.current!.consume('key:a')).kind).toBe('allowed');
  });

  it('a new redis_url: the connected store stays in use until the new one is ready, then the old is closed', async () => {
    const { limiters, opened } = fakeLimiters();
    limiters.apply(limits());
    opened[0]!.connect();
    await settle();
    const before = limiters.current;

    limiters.apply(limits({ redis_url: 'redis://10.0.0.9:6379', burst: 7 }));
    expect(opened).toHaveLength(2);
    await settle();
    expect(limiters.current).toBe(before);
    expect(opened[0]!.closed).toBe(false);

    opened[1]!.connect();
    await settle();
    expect(limiters.current?.limit).toBe(7);
    expect(opened[0]!.closed).toBe(true);
    expect(opened[1]!.closed).toBe(false);
  });

  it('a reload while the new store connects: the same store keeps its place in line; another one replaces it', async () => {
    const { limiters, opened } = fakeLimiters();
    limiters.apply(limits());
    opened[0]!.connect();
    await settle();
    limiters.apply(limits({ redis_url: 'redis://10.0.0.9:6379' }));
    limiters.apply(limits({ redis_url: 'redis://10.0.0.9:6379', burst: 9 }));
    expect(opened).toHaveLength(2);
    opened[1]!.connect();
    await settle();
    expect(limiters.current?.limit).toBe(9);

    // Back to a store not yet connected, then to the one in use before it connects: that one stays.
    limiters.apply(limits({ redis_url: 'redis://10.0.0.10:6379' }));
    limiters.apply(limits({ redis_url: 'redis://10.0.0.9:6379', burst: 4 }));
    expect(opened).toHaveLength(3);
    expect(opened[2]!.closed).toBe(true);
    expect(opened[1]!.closed).toBe(false);
    expect(limiters.current?.limit).toBe(4);
    opened[2]!.connect();
    await settle();
    expect(limiters.current?.limit).toBe(4);
  });

  it('limits newly on: none until the store is ready (not a store error per request); off closes the store', async () => {
    const { limiters, opened } = fakeLimiters();
    limiters.apply(null);
    limiters.apply(limits());
    expect(limiters.current).toBeUndefined();
    opened[0]!.connect();
    await settle();
    expect(limiters.current?.limit).toBe(3);
    limiters.apply(null);
    expect(limiters.current).toBeUndefined();
    expect(opened[0]!.closed).toBe(true);
  });

  it('in memory, a reload that changes the bucket keeps every client\'s state', async () => {
    const clock = { ms: 1_000_000 };
    const limiters = new RateLimiters((cfg) => openBucketStore(cfg, undefined, () => clock.ms));
    limiters.apply(limits({ redis_url: null, burst: 2 }));
    const current = () => limiters.current!;
    expect((await current().consume('key:a')).kind).toBe('allowed');
    expect((await current().consume('key:a')).kind).toBe('allowed');
    expect((await current().consume('key:a')).kind).toBe('limited');
    // One more in the burst: the client has spent two, so exactly one more passes.
    limiters.apply(limits({ redis_url: null, burst: 3 }));
    expect((await current().consume('key:a')).kind).toBe('allowed');
    expect((await current().consume('key:a')).kind).toBe('limited');
  });
});
