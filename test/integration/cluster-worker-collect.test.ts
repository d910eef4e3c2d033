import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/processes.js';

// The primary merges a scrape from every worker's answer, waiting up to 5 s for each.
describe('a cluster worker asked for its metrics', () => {
  it('always answers: with nothing before it serves, and with nothing when rendering fails, never with an unhandled rejection', () => {
    const run = spawnSync(process.execPath, [join(ROOT, 'test/helpers/worker-collect.mjs')], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(0);
    const { sent, rejections } = JSON.parse(run.stdout.trim().split('\n').pop()!) as { sent: unknown[]; rejections: string[] };
    expect(sent).toEqual([
      { type: 'sluice:hello' },
      { type: 'sluice:worker-metrics', id: 1, metrics: [] },
      { type: 'sluice:worker-metrics', id: 2, metrics: [] },
    ]);
    expect(rejections).toEqual([]);
  });
});
