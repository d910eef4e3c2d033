import { availableParallelism } from 'node:os';

/** The number of processes serving requests for `server.workers` (`auto`: one per available core). */
export function workerCount(setting: number | 'auto', cores: () => number = availableParallelism): number {
  return setting === 'auto' ? Math.max(1, cores()) : setting;
}
