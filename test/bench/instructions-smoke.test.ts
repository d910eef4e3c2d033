import { describe, expect, it } from 'vitest';
import { runNode } from '../helpers/processes.js';

// The smoke version of `npm run bench:instructions`: a few requests under valgrind, to check that
// the harness runs end to end and reads a count for each row, never what the counts are.

describe('npm run bench:instructions (smoke)', () => {
  it('counts the main thread and the helper threads of the bare middleware and of Sluice', { timeout: 180_000 }, async () => {
    const { code, stdout, stderr } = await runNode(['bench/proxy/instructions.mjs', '--warmup', '20', '--requests', '20']);
    expect(code, stderr).toBe(0);
    const rows = new Map<string, number[]>();
    for (const line of stdout.split('\n')) {
      const m = /^\| ([^|]+) \| (\d+)k \| (\d+)k \| ([\d.]+)× \|$/.exec(line);
      if (m) rows.set(m[1]!, [Number(m[2]), Number(m[3]), Number(m[4])]);
    }
    expect([...rows.keys()]).toEqual(['bare http-proxy-middleware', 'Sluice']);
    const [hpmMain, , hpmRatio] = rows.get('bare http-proxy-middleware')!;
    const [sluiceMain, sluiceHelpers, sluiceRatio] = rows.get('Sluice')!;
    // Thousands of instructions per request: a count was read for each (an empty dump reads 0k).
    expect(hpmMain).toBeGreaterThan(0);
    expect(sluiceMain).toBeGreaterThan(0);
    expect(sluiceHelpers).toBeGreaterThanOrEqual(0);
    expect(hpmRatio).toBe(1);
    expect(sluiceRatio).toBeCloseTo(hpmMain! / sluiceMain!, 1);
  });
});
