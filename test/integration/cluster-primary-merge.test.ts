import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/processes.js';

/** Runs a scenario of primary-merge.mjs: the primary over stub workers; each scrape's `requests_total` per endpoint. */
function scrapes(scenario: string): Array<Record<string, number>> {
  const run = spawnSync(process.execPath, [join(ROOT, 'test/helpers/primary-merge.mjs'), scenario], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
  expect(run.status, run.stderr).toBe(0);
  return (JSON.parse(run.stdout.trim().split('\n').pop()!) as { scrapes: Array<Record<string, number>> }).scrapes;
}

describe('the cluster primary\'s merge of its workers\' metrics', () => {
  // Its answer was in the scrape's parts and, once it exited, in the dead workers' counts as well:
  // 25, then 15 at the next scrape, a counter reset to Prometheus.
  it('counts a worker that dies during a scrape, after answering it, once', () => {
    expect(scrapes('died-after-answering')).toEqual([{ a: 15 }, { a: 15 }]);
  });

  // The dead worker's counts of b stayed in every merge, at its share of b's total.
  it('drops a dead worker\'s series of an endpoint that left the fleet, once no live worker has any', () => {
    expect(scrapes('endpoint-left')).toEqual([{ a: 15, b: 5 }, { a: 15, b: 5 }, { a: 15 }]);
  });
});
