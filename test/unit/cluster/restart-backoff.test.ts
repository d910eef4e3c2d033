import { describe, expect, it } from 'vitest';
import { RestartBackoff } from '../../../src/cluster/restart-backoff.js';
import { workerCount } from '../../../src/cluster/worker-count.js';

describe('worker restarts', () => {
  it('wait longer after each quick death of a slot, up to the cap, and start over after a stable run', () => {
    const backoff = new RestartBackoff({ baseMs: 100, maxMs: 1000, stableAfterMs: 30_000 });
    expect([1, 2, 3, 4, 5].map(() => backoff.delayAfterDeath(0, 50))).toEqual([100, 200, 400, 800, 1000]);
    // Another slot has its own count.
    expect(backoff.delayAfterDeath(1, 50)).toBe(100);
    expect(backoff.delayAfterDeath(0, 60_000)).toBe(100);
    expect(backoff.delayAfterDeath(0, 10)).toBe(200);
  });
});

describe('server.workers', () => {
  it('auto is one worker per available core', () => {
    expect(workerCount('auto', () => 6)).toBe(6);
    expect(workerCount(3, () => 6)).toBe(3);
  });
});
