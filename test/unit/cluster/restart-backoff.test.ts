import { describe, expect, it } from 'vitest';
import { RestartBackoff } from '../../../src/cluster/restart-backoff.js';
import { cpuQuota, workerCount } from '../../../src/cluster/worker-count.js';

describe('worker restarts', () => {
  it('wait longer after each quick death of a slot, up to the cap, and start over after a stable run', () => {
    const backoff = new RestartBackoff({ baseMs: 100, maxMs: 1000, stableAfterMs: 30_000 });
    expect([1, 2, 3, 4, 5].map(() => backoff.delayAfterDeath(0, 50))).toEqual([100, 200, 400, 800, 1000]);
    // Another slot has its own count.
    expect(backoff.delayAfterDeath(1, 50)).toBe(100);
    expect(backoff.delayAfterDeath(0, 60_000)).toBe(100);
    expect(backoff.delayAfterDeath(0, 10)).toBe(200);
  });

  it('restart a worker that exited cleanly at once, and start its slot\'s count over', () => {
    const backoff = new RestartBackoff({ baseMs: 100, maxMs: 1000, stableAfterMs: 30_000 });
    expect([1, 2, 3].map(() => backoff.delayAfterDeath(0, 50))).toEqual([100, 200, 400]);
    expect(backoff.delayAfterExit(0)).toBe(100);
    expect(backoff.delayAfterDeath(0, 50)).toBe(100);
  });
});

describe('server.workers', () => {
  it('auto is one worker per available core, or fewer under a cgroup CPU limit', () => {
    expect(workerCount('auto', () => 6, () => undefined)).toBe(6);
    expect(workerCount(3, () => 6, () => 2)).toBe(3);
    // A pod limited to 2 CPUs on a 64-core node.
    expect(workerCount('auto', () => 64, () => 2)).toBe(2);
    expect(workerCount('auto', () => 2, () => 8)).toBe(2);
  });
});

describe('cpuQuota', () => {
  const files = (entries: Record<string, string>) => (path: string) => entries[path];

  it('reads cgroup v2 cpu.max, rounding a part of a CPU up', () => {
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu.max': '200000 100000\n' }))).toBe(2);
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' }))).toBe(2);
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu.max': '50000 100000\n' }))).toBe(1);
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' }))).toBeUndefined();
  });

  it('falls back to cgroup v1 CFS quota and period; none is no limit', () => {
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '300000\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' }))).toBe(3);
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n', '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n' }))).toBeUndefined();
    expect(cpuQuota(files({}))).toBeUndefined();
  });
});
