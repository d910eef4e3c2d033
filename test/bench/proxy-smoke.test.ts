import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runNode } from '../helpers/processes.js';

// The smoke version of `npm run bench`: every section, tiny durations, only the rows whose tools
// are installed. It checks that the harness works end to end, never how fast anything is.

function installed(tool: string): boolean {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  return dirs.some((d) => d !== '' && existsSync(join(d, tool)));
}

interface Summary { count: number; p99: number | null; curve: unknown[] }
interface RowResult { row: string; error?: string }
interface Results {
  meta: { smoke: boolean; plotRate: number; skippedRows: Array<{ row: string }>; params: { latency: { rounds: number }; streaming: { rounds: number } } };
  rows: Array<{ id: string; label: string }>;
  throughput?: Array<RowResult & { rps: number; requests: number; cpuUsPerRequest: number | null }>;
  throughputSideBySide?: {
    error?: string;
    processes: number;
    rounds: number;
    perProcess: Array<{ row: string; requests: number; cpuUsPerRequest: number | null; slices: Array<{ requests: number }> }>;
    roundCpuRatios: number[];
    cpuRatio: number;
    workersRatio: number | null;
  };
  telemetry?: Record<'on' | 'off' | 'sampled', RowResult & { rps: number; cpuUsPerRequest: number | null; perProcess: Array<{ slices: Array<{ requests: number }> }> }> & { processes: number; rounds: number; sink: { exports: number }; accessLogLines: number };
  latency: Array<RowResult & { byRate: Record<string, { measured: number; failed: number; slices: number; sliceP99s: number[]; latency: Summary; ownTime: { requests: number; p50: number | null; p99: number | null; within1ms: number | null } | null }> }>;
  streaming: { rows: Array<RowResult & { runs: number; runP99s: number[]; streams: number; complete: number; events: number; expectedEvents: number; delay: Summary; delayWhileStarting: Summary }> };
  concurrent: { rows: Array<RowResult & { streams: number; complete: number; errors: number; peakRssBytes: number | null }> };
  failover: { rows: Array<RowResult & { sent: number; failed: number }> };
}

const out = mkdtempSync(join(tmpdir(), 'sluice-bench-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('npm run bench -- --smoke', () => {
  it('measures every available row in every section and writes the results, the table and the plot', async () => {
    const { code, stdout, stderr } = await runNode(['bench/proxy/run.mjs', '--smoke', '--out', out]);
    expect(code, stderr.slice(-3000)).toBe(0);

    const files = readdirSync(out);
    const json = files.find((f) => f.endsWith('-smoke.json'));
    expect(json, files.join(', ')).toBeDefined();
    const base = join(out, json!.replace(/\.json$/, ''));
    const results = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as Results;
    expect(results.meta.smoke).toBe(true);

    const expected = ['direct', 'sluice', 'sluice-2w', 'hpm', 'raw', ...(installed('nginx') ? ['nginx'] : []), ...(installed('haproxy') ? ['haproxy'] : [])];
    const ids = (list: RowResult[]) => list.filter((r) => r.error === undefined).map((r) => r.row).sort();
    const errors = (list: RowResult[]) => list.filter((r) => r.error !== undefined).map((r) => `${r.row}: ${r.error}`).join('; ');

    // Latency (open loop) for every row, side by side in slices added up, with a percentile curve to plot.
    expect(ids(results.latency), errors(results.latency)).toEqual([...expected].sort());
    for (const r of results.latency) {
      const plotted = r.byRate[String(results.meta.plotRate)];
      expect(plotted.measured, r.row).toBeGreaterThan(0);
      expect(plotted.failed, r.row).toBe(0);
      expect(plotted.latency.curve.length, r.row).toBeGreaterThan(1);
      // Every round gave the row a slice, and the merged histogram holds every slice's requests.
      expect(plotted.slices, r.row).toBe(results.meta.params.latency.rounds);
      expect(plotted.sliceP99s, r.row).toHaveLength(plotted.slices);
      expect(plotted.latency.count, r.row).toBe(plotted.measured);
      // Sluice's rows also report Sluice's own time per request, read from its /metrics: at
      // least one observation per measured request (the slices' unmeasured starts are in it too).
      if (r.row.startsWith('sluice')) {
        expect(plotted.ownTime, r.row).not.toBeNull();
        expect(plotted.ownTime!.requests, r.row).toBeGreaterThanOrEqual(plotted.measured);
        expect(plotted.ownTime!.p99, r.row).toBeGreaterThan(0);
        expect(plotted.ownTime!.within1ms, r.row).toBeGreaterThanOrEqual(0);
      } else expect(plotted.ownTime, r.row).toBeNull();
    }

    // Streaming: every chunk of every stream arrives, through every proxy, in every round; each
    // chunk's delay is counted once, as steady or as sent while streams were starting.
    expect(ids(results.streaming.rows), errors(results.streaming.rows)).toEqual([...expected].sort());
    for (const r of results.streaming.rows) {
      expect(r.runs, r.row).toBe(results.meta.params.streaming.rounds);
      expect(r.runP99s, r.row).toHaveLength(r.runs);
      expect(r.complete, r.row).toBe(r.streams);
      expect(r.events, r.row).toBe(r.expectedEvents);
      expect(r.delay.count + r.delayWhileStarting.count, r.row).toBe(r.expectedEvents);
    }

    // Concurrent streams, with the peak memory of each proxy process.
    expect(ids(results.concurrent.rows), errors(results.concurrent.rows)).toEqual([...expected].sort());
    for (const r of results.concurrent.rows) {
      expect(r.complete, r.row).toBe(r.streams);
      if (r.row !== 'direct') expect(r.peakRssBytes, r.row).toBeGreaterThan(0);
    }

    // Failover: the proxies with several backends; failures are counted, not judged here.
    const failoverRows = expected.filter((id) => ['sluice', 'sluice-2w', 'nginx', 'haproxy'].includes(id)).sort();
    expect(ids(results.failover.rows), errors(results.failover.rows)).toEqual(failoverRows);
    for (const r of results.failover.rows) {
      expect(r.sent, r.row).toBeGreaterThan(0);
      expect(typeof r.failed, r.row).toBe('number');
    }

    // Throughput and telemetry cost need wrk.
    if (installed('wrk')) {
      expect(ids(results.throughput!), errors(results.throughput!)).toEqual([...expected].sort());
      for (const r of results.throughput!) expect(r.requests, r.row).toBeGreaterThan(0);
      // Every proxy's CPU per request is read from /proc; the direct row has no proxy.
      for (const r of results.throughput!) if (r.row !== 'direct') expect(r.cpuUsPerRequest, r.row).toBeGreaterThan(0);
      // Sluice and the bare middleware ran again side by side, every process in every round, and were compared round by round.
      const side = results.throughputSideBySide!;
      expect(side.error).toBeUndefined();
      // Two of each kind in the full run (one in the smoke run), and Sluice with two workers.
      expect(side.perProcess.map((p) => p.row).sort()).toEqual([...Array<string>(side.processes).fill('hpm'), ...Array<string>(side.processes).fill('sluice'), 'sluice-2w']);
      for (const p of side.perProcess) {
        expect(p.slices, p.row).toHaveLength(side.rounds);
        for (const slice of p.slices) expect(slice.requests, p.row).toBeGreaterThan(0);
        expect(p.cpuUsPerRequest, p.row).toBeGreaterThan(0);
      }
      expect(side.roundCpuRatios).toHaveLength(side.rounds);
      expect(side.cpuRatio).toBeGreaterThan(0);
      expect(side.workersRatio).toBeGreaterThan(0);
      // Telemetry off, on and sampled, side by side in the same way.
      const t = results.telemetry!;
      for (const mode of ['off', 'on', 'sampled'] as const) {
        expect(t[mode].error, mode).toBeUndefined();
        expect(t[mode].perProcess, mode).toHaveLength(t.processes);
        for (const p of t[mode].perProcess) expect(p.slices, mode).toHaveLength(t.rounds);
        expect(t[mode].rps, mode).toBeGreaterThan(0);
        expect(t[mode].cpuUsPerRequest, mode).toBeGreaterThan(0);
      }
      expect(t.sink.exports, 'trace exports received').toBeGreaterThan(0);
      expect(t.accessLogLines, 'access log lines').toBeGreaterThan(0);
    } else {
      expect(results.throughput).toBeUndefined();
    }

    // The Markdown table is printed and written; the plot exists as SVG and PNG.
    const markdown = readFileSync(`${base}.md`, 'utf8');
    expect(stdout).toContain(markdown.trim().split('\n')[0]);
    const labels = results.rows.filter((r) => expected.includes(r.id)).map((r) => r.label);
    for (const label of labels) expect(markdown).toContain(`| ${label} |`);
    expect(markdown).toContain('× nginx');
    expect(markdown).toContain('× direct');
    expect(markdown).toContain("Sluice's own time per request");
    if (installed('wrk')) expect(markdown).toContain('side by side');
    const svg = readFileSync(`${base}.svg`, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    for (const label of labels) expect(svg).toContain(label);
    const png = readFileSync(`${base}.png`);
    expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
  }, 1_200_000);
});
