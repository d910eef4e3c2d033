import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/processes.js';

// The routing benchmark's smoke mode, run as CI runs it: compiled, real engines, real Sluice and
// (when installed) real nginx. No timings are asserted; the outputs must exist and parse.
describe('routing benchmark smoke run', () => {
  const out = mkdtempSync(join(tmpdir(), 'sluice-bench-smoke-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('writes a JSON result, a Markdown table and a PNG chart', () => {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.bench.json'], { cwd: ROOT });
    const run = spawnSync(process.execPath, [join(ROOT, 'dist-bench/bench/routing/run.js'), '--smoke', '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 420_000 });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const nginxInstalled = !spawnSync('nginx', ['-v']).error;
    if (!nginxInstalled) expect(run.stdout).toMatch(/skipping nginx least_conn: nginx not installed/);

    const files = readdirSync(out);
    const base = files.find((f) => f.endsWith('.json'))!.replace(/\.json$/, '');
    expect(files.sort()).toEqual([`${base}.json`, `${base}.md`, `${base}.png`, `${base}.svg`]);

    const result = JSON.parse(readFileSync(join(out, `${base}.json`), 'utf8')) as {
      smoke: boolean;
      rows: Array<{ target: string; regime: string; requests: number; failed: number; ttftMs: { p90: number }; ttftSamplesMs: number[] }>;
      bootstrap: { resamples: number; seed: number; levelPercent: number };
      targets: Array<{ target: string; measured: string; ttftRatios?: unknown[] }>;
    };
    expect(result.smoke).toBe(true);
    const targets = ['round-robin', 'least-connections', ...(nginxInstalled ? ['nginx least_conn'] : [])];
    for (const regime of ['pressure', 'no-pressure']) {
      expect(result.rows.filter((r) => r.regime === regime).map((r) => r.target)).toEqual(targets);
    }
    for (const row of result.rows) expect(row.requests).toBeGreaterThan(0);
    expect(result.rows.some((r) => r.failed < r.requests && r.ttftMs.p90 > 0)).toBe(true);
    // Every completed request's TTFT, in ms to 0.1 ms, for the intervals of the targets.
    for (const row of result.rows) {
      expect(row.ttftSamplesMs).toHaveLength(row.requests - row.failed);
      for (const ms of row.ttftSamplesMs) expect(Math.round(ms * 10) / 10).toBe(ms);
    }
    expect(result.bootstrap).toEqual({ resamples: 2000, seed: 1, levelPercent: 95 });
    // The smoke plan runs none of the strategies the TTFT targets compare: their ratios are empty.
    const ttftTargets = result.targets.filter((t) => t.target.includes('TTFT p90'));
    expect(ttftTargets.length).toBeGreaterThan(0);
    for (const t of ttftTargets) expect(t.ttftRatios).toEqual([]);

    const markdown = readFileSync(join(out, `${base}.md`), 'utf8');
    const tableLines = markdown.split('\n').filter((l) => l.startsWith('| '));
    expect(tableLines).toHaveLength(1 + result.rows.length);
    expect(tableLines[0]).toContain('TTFT p90 (ms)');

    const png = readFileSync(join(out, `${base}.png`));
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.readUInt32BE(16)).toBeGreaterThan(400); // IHDR width
    expect(readFileSync(join(out, `${base}.svg`), 'utf8')).toContain('<svg');
  }, 480_000);
});
