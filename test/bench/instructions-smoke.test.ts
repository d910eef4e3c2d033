import { describe, expect, it } from 'vitest';
import { runNode } from '../helpers/processes.js';

// The smoke version of `npm run bench:instructions`: a few requests and a few streamed chunks
// under valgrind, to check that the harness runs end to end and reads a count for each row and
// each workload, never what the counts are.

/** The rows of each table in the output, by the table's title: [main thread, helper threads, ratio]. */
function tables(stdout: string): Map<string, Map<string, number[]>> {
  const out = new Map<string, Map<string, number[]>>();
  let rows: Map<string, number[]> | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('Instructions per ')) out.set(/^Instructions per ([a-z ]+)/.exec(line)![1]!.trim(), (rows = new Map()));
    const m = /^\| ([^|]+) \| ([\d.]+)k \| ([\d.]+)k \| ([\d.]+)× \|$/.exec(line);
    if (m && rows) rows.set(m[1]!, [Number(m[2]), Number(m[3]), Number(m[4])]);
  }
  return out;
}

describe('npm run bench:instructions (smoke)', () => {
  it('counts the main thread and the helper threads of the bare middleware and of Sluice, per request and per streamed chunk', { timeout: 240_000 }, async () => {
    const { code, stdout, stderr } = await runNode(['bench/proxy/instructions.mjs', '--warmup', '20', '--requests', '20', '--stream-chunks', '10']);
    expect(code, stderr).toBe(0);
    const found = tables(stdout);
    expect([...found.keys()]).toEqual(['request', 'streamed chunk']);
    for (const [unit, rows] of found) {
      expect([...rows.keys()], unit).toEqual(['bare http-proxy-middleware', 'Sluice']);
      const [hpmMain, , hpmRatio] = rows.get('bare http-proxy-middleware')!;
      const [sluiceMain, sluiceHelpers, sluiceRatio] = rows.get('Sluice')!;
      // Thousands of instructions per unit: a count was read for each (an empty dump reads 0.0k).
      expect(hpmMain, unit).toBeGreaterThan(0);
      expect(sluiceMain, unit).toBeGreaterThan(0);
      expect(sluiceHelpers, unit).toBeGreaterThanOrEqual(0);
      expect(hpmRatio, unit).toBe(1);
      expect(sluiceRatio, unit).toBeCloseTo(hpmMain! / sluiceMain!, 1);
    }
  });
});
