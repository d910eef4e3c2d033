import { Redis } from 'ioredis';
import { keepStringPrototypeFast } from './string-prototype.js';
import type { Bucket, Decision } from './gcra.js';

// ioredis subclasses String, which leaves String.prototype slow for the whole process: see keepStringPrototypeFast.
keepStringPrototypeFast();

// The same step in Redis, atomic, on Redis's clock (shared by every replica). The key expires when
// the bucket is full again. Returns {allowed, remaining, waitMs}.
const GCRA_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local emission = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tolerance then
  return {0, 0, math.ceil(tat - now - tolerance)}
end
local nextTat = tat + emission
redis.call('SET', KEYS[1], tostring(nextTat), 'PX', math.ceil(nextTat - now))
return {1, math.floor((tolerance - (nextTat - now)) / emission) + 1, math.ceil(nextTat - now)}
`;

type RedisWithGcra = Redis & { sluiceGcra(key: string, emissionMs: number, toleranceMs: number): Promise<[number, number, number]> };

/**
 * GCRA buckets in Redis (keys `sluice:rl:gcra:*`), shared by every replica pointing at it. The
 * client never queues commands while disconnected and gives up on one after `timeoutMs`: a command
 * it cannot run now rejects, for the caller to fail open on.
 */
export class RedisBuckets {
  readonly #redis: RedisWithGcra;
  /** How long one connection attempt may take, and so how long `ready` waits at most. */
  readonly #connectTimeoutMs: number;

  constructor(url: string, timeoutMs: number, onError: (err: Error) => void) {
    this.#connectTimeoutMs = Math.max(1000, timeoutMs);
    const redis = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: timeoutMs,
      connectTimeout: this.#connectTimeoutMs,
    });
    redis.defineCommand('sluiceGcra', { numberOfKeys: 1, lua: GCRA_LUA });
    redis.on('error', onError);
    this.#redis = redis as RedisWithGcra;
  }

  /** Connected, and so able to run commands now. */
  get isReady(): boolean {
    return this.#redis.status === 'ready';
  }

  /** Resolves once connected, closed, or after one connection attempt's timeout, whichever comes first. */
  ready(): Promise<void> {
    if (this.isReady) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#redis.off('ready', done).off('end', done);
        resolve();
      };
      const timer = setTimeout(done, this.#connectTimeoutMs);
      timer.unref();
      this.#redis.once('ready', done).once('end', done);
    });
  }

  /** Takes one request from `key`'s bucket when it has room; rejects when Redis cannot answer. */
  async consume(key: string, bucket: Bucket): Promise<Pick<Decision, 'allowed' | 'remaining' | 'waitMs'>> {
    const [allowed, remaining, waitMs] = await this.#redis.sluiceGcra(`sluice:rl:gcra:${key}`, bucket.emissionMs, bucket.toleranceMs);
    return { allowed: allowed === 1, remaining, waitMs };
  }

  close(): void {
    this.#redis.disconnect();
  }
}
