import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Reads a small system file; undefined when it does not exist or cannot be read. */
export type FileReader = (path: string) => string | undefined;

const readSystemFile: FileReader = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * The CPUs a cgroup CPU limit allows this process, rounded up (a container's `resources.limits.cpu`,
 * Docker's `--cpus`): cgroup v2's `cpu.max`, else cgroup v1's CFS quota and period; undefined when
 * there is no limit. Node 20's `availableParallelism()` counts the CPUs the process may run on,
 * not its quota: in a pod limited to 2 CPUs on a 64-core node it says 64.
 */
export function cpuQuota(read: FileReader = readSystemFile): number | undefined {
  const v2 = read('/sys/fs/cgroup/cpu.max')?.trim().split(/\s+/);
  if (v2 && v2.length >= 1) return cores(v2[0], v2[1] ?? '100000');
  const quota = read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us') ?? read('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us');
  const period = read('/sys/fs/cgroup/cpu/cpu.cfs_period_us') ?? read('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us');
  return quota === undefined ? undefined : cores(quota.trim(), (period ?? '100000').trim());
}

/** `quota` µs of CPU time per `period` µs, in whole CPUs rounded up; undefined for no limit (`max`, -1) or nonsense. */
function cores(quota: string | undefined, period: string): number | undefined {
  const q = Number(quota);
  const p = Number(period);
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return undefined;
  return Math.max(1, Math.ceil(q / p));
}

/**
 * The number of processes serving requests for `server.workers` (`auto`: one per CPU the process
 * may use: the CPUs it may run on, or fewer under a cgroup CPU limit).
 */
export function workerCount(setting: number | 'auto', available: () => number = availableParallelism, quota: () => number | undefined = cpuQuota): number {
  if (setting !== 'auto') return setting;
  return Math.max(1, Math.min(available(), quota() ?? Number.POSITIVE_INFINITY));
}
