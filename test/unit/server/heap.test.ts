import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { collectStartupGarbage } from '../../../src/server/heap.js';

/** The kinds of the collections V8 ran while `fn` ran (delivered to an observer after it). */
async function collectionsDuring(fn: () => void): Promise<number[]> {
  const kinds: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries() as Array<PerformanceEntry & { detail?: { kind?: number } }>) kinds.push(entry.detail?.kind ?? -1);
  });
  observer.observe({ entryTypes: ['gc'] });
  fn();
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  return kinds;
}

describe('collectStartupGarbage', () => {
  it('runs a full (major) collection and says how long it took', async () => {
    let ms = -1;
    const kinds = await collectionsDuring(() => {
      ms = collectStartupGarbage();
    });
    expect(kinds).toContain(constants.NODE_PERFORMANCE_GC_MAJOR);
    expect(ms).toBeGreaterThan(0);
  });

  it('leaves no gc() behind in the global scope', () => {
    collectStartupGarbage();
    expect('gc' in globalThis).toBe(false);
  });
});
