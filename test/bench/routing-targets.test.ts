import { describe, expect, it } from 'vitest';
import type { Row } from '../../bench/routing/report.js';
import { percentile } from '../../bench/routing/stats.js';
import { checkTargets, targetsTable } from '../../bench/routing/targets.js';

/** 40 TTFTs from 100 to 490 ms, in a fixed shuffled order. */
const SAMPLES = Array.from({ length: 40 }, (_, i) => 100 + ((i * 17) % 40) * 10);
const scaled = (factor: number) => SAMPLES.map((v) => Math.round(v * factor * 10) / 10);

function row(target: string, regime: Row['regime'], rate: number, ttft: readonly number[]): Row {
  return {
    target,
    regime,
    rate,
    requests: ttft.length,
    failed: 0,
    ttftMs: { p50: percentile(ttft, 50), p90: percentile(ttft, 90), p99: percentile(ttft, 99) },
    ttftSamplesMs: ttft,
    e2eMs: { p50: 1000, p90: 2000 },
    outputTokensPerSecond: 300,
    prefixCacheHitRate: 0.5,
  };
}

const ROWS: Row[] = [
  row('round-robin', 'pressure', 8, scaled(10)),
  row('prefix-aware', 'pressure', 8, SAMPLES),
  row('least-connections', 'no-pressure', 4, SAMPLES),
  row('load-aware', 'no-pressure', 4, scaled(1.06)),
  row('prefix-aware', 'no-pressure', 4, scaled(0.5)),
];

describe('routing benchmark targets', () => {
  const checks = checkTargets(ROWS);
  const byName = (start: string) => checks.find((c) => c.target.startsWith(start))!;

  it('gives each TTFT p90 ratio a bootstrap interval around it, and keeps "met" on the point estimate', () => {
    const rr = byName('pressure: prefix-aware TTFT p90 ≥ 5× lower than round-robin');
    expect(rr.met).toBe(true);
    expect(rr.ttftRatios).toHaveLength(1);
    const [ratio] = rr.ttftRatios!;
    expect(ratio!.rate).toBe(8);
    expect(ratio!.ratio).toBe(10);
    expect(ratio!.interval.low).toBeGreaterThan(5);
    expect(ratio!.interval.low).toBeLessThan(10);
    expect(ratio!.interval.high).toBeGreaterThan(10);
    expect(ratio!.undecided).toBe(false);
    expect(rr.measured).toMatch(/^10\.00× \(95% CI \d+\.\d\d–\d+\.\d\d\) at 8 req\/s \(4500 vs 450 ms\)$/);

    const loadAware = byName('no pressure: load-aware');
    expect(loadAware.met).toBe(false);
    expect(loadAware.ttftRatios![0]!.ratio).toBeCloseTo(1.06, 10);
    expect(loadAware.measured).toMatch(/^worst 1\.06× \(95% CI 0\.\d\d–1\.\d\d\) at 4 req\/s$/);

    const prefix = byName('no pressure: prefix-aware');
    expect(prefix.met).toBe(true);
    expect(prefix.ttftRatios![0]!.interval.high).toBeLessThan(1.05);
    expect(prefix.ttftRatios![0]!.undecided).toBe(false);
  });

  it('calls a ratio undecided when its interval spans the threshold', () => {
    const [ratio] = byName('no pressure: load-aware').ttftRatios!;
    expect(ratio!.interval.low).toBeLessThan(1.05);
    expect(ratio!.interval.high).toBeGreaterThan(1.05);
    expect(ratio!.undecided).toBe(true);
  });

  it('renders the same intervals for the same rows', () => {
    expect(checkTargets(ROWS)).toEqual(checks);
  });

  it('leaves the TTFT ratios empty when the rows are missing, and other targets without them', () => {
    const lone = checkTargets([row('least-connections', 'no-pressure', 4, SAMPLES)]);
    expect(lone.find((c) => c.target.startsWith('no pressure: load-aware'))).toMatchObject({ measured: 'not run', met: undefined, ttftRatios: [] });
    expect(lone.find((c) => c.target.startsWith('pressure: prefix-aware TTFT'))).toMatchObject({ measured: 'not run', ttftRatios: [] });
    expect(checks.find((c) => c.target.includes('output tokens/s'))!.ttftRatios).toBeUndefined();
  });

  it('shows the intervals in the table and notes the targets it cannot tell at this sample size', () => {
    const table = targetsTable(checks);
    const loadAwareLine = table.split('\n').find((l) => l.startsWith('| no pressure: load-aware'))!;
    expect(loadAwareLine).toMatch(/\| worst 1\.06× \(95% CI [\d.]+–[\d.]+\) at 4 req\/s † \| no \|$/);
    expect(table.split('\n').find((l) => l.startsWith('| no pressure: prefix-aware'))).toMatch(/\) at 4 req\/s \| yes \|$/);
    expect(table).toContain('Not distinguishable from the threshold at this sample size');
    expect(table).toMatch(/^- no pressure: load-aware TTFT p90 within 5% of least-connections: 1\.06× \(95% CI [\d.]+–[\d.]+\) at 4 req\/s$/m);
    expect(table.match(/^- /gm)).toHaveLength(1);
    expect(table).toContain('2,000 times, seed 1');
  });

  it('adds no notes when no TTFT target ran', () => {
    const table = targetsTable(checkTargets([]));
    expect(table).not.toContain('CI');
    expect(table).not.toContain('†');
  });
});
