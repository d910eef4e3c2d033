import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The longest files, started first (the rest follow in vitest's order: by the last run's duration
 * when it is cached, else largest file first). A fresh clone, as in CI, has no such cache, and the
 * short bench smoke files would otherwise start last and run alone at the end. The two smoke runs
 * that pin their processes to the same cores (bench/lib/proxy-procs.mjs CORES) are kept apart:
 * four long files come between them, which the other worker is usually still running when the
 * instructions smoke ends, so that it has ended before the proxy smoke starts.
 */
const FIRST = [
  'test/bench/instructions-smoke.test.ts',
  'test/integration/request-path-defects.test.ts',
  'test/bench/routing-smoke.test.ts',
  'test/integration/fault-matrix-requests.test.ts',
  'test/integration/model-lists-pending.test.ts',
  'test/bench/proxy-smoke.test.ts',
];

// A file renamed or removed would silently lose its place: say so instead.
for (const file of FIRST) if (!existsSync(new URL(file, import.meta.url))) throw new Error(`vitest.config.ts lists ${file} to start first, and there is no such file`);

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const i = FIRST.indexOf(relative(spec.project.config.root, spec.moduleId));
      return i === -1 ? FIRST.length : i;
    };
    // Array.prototype.sort is stable: the files not listed keep vitest's order.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two files at a time. Every test starts its processes on free loopback ports (test/helpers),
    // so files do not collide; most of a file's time is spent waiting on the processes it runs.
    maxWorkers: 2,
    sequence: { sequencer: LongestFirst },
    reporters: ['default'],
  },
});
