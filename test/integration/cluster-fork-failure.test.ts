import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/processes.js';

describe('ClusterPrimary when a worker cannot be spawned', () => {
  it('logs it and tries again with the backoff, instead of dying of the process error', () => {
    const run = spawnSync(process.execPath, [join(ROOT, 'test/helpers/primary-fork-failure.mjs')], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    const lines = run.stdout.split('\n').flatMap((l) => (l.startsWith('{') ? [JSON.parse(l) as Record<string, unknown>] : []));
    expect(run.stdout).toContain('survived');
    expect(run.status).toBe(0);
    const errors = lines.filter((l) => l.message === 'worker process error');
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(String(errors[0]!.error)).toContain('ENOENT');
    // Each failed spawn is a death, restarted later and later.
    const delays = lines.filter((l) => l.message === 'worker died; restarting it').map((l) => l.restart_in_ms as number);
    expect(delays.length).toBeGreaterThanOrEqual(3);
    expect(delays).toEqual([...delays].sort((a, b) => a - b));
    expect(new Set(delays).size).toBeGreaterThan(1);
  });
});
