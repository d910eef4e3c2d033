/**
 * The routing benchmark's targets, computed from one run's rows (ratios within the run, never
 * absolute times):
 * - under cache pressure, at the highest rate where round-robin still completes every request,
 *   `prefix-aware` TTFT p90 at least 5× lower than round-robin's and nginx `least_conn`'s, and
 *   output tokens/s at least 1.3× theirs;
 * - without pressure, `load-aware` and `prefix-aware` TTFT p90 within 5% of `least-connections`;
 * - through two Sluice replicas, the backends' prefix-cache hit rate within 10% of one replica's.
 */
import type { Row } from './report.js';

export const REPLICAS_TARGET = 'prefix-aware, 2 replicas';
export const NGINX_TARGET = 'nginx least_conn';

export interface TargetCheck {
  readonly target: string;
  /** What this run measured, e.g. "7.2× (rr 4100 ms / prefix 570 ms at 8 req/s)". */
  readonly measured: string;
  /** Undefined when the rows needed are missing. */
  readonly met: boolean | undefined;
}

const find = (rows: readonly Row[], regime: Row['regime'], target: string, rate: number) => rows.find((r) => r.regime === regime && r.target === target && r.rate === rate);
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : Number.NaN);
const times = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');

export function checkTargets(rows: readonly Row[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const rrRates = rows.filter((r) => r.regime === 'pressure' && r.target === 'round-robin' && r.requests > 0 && r.failed === 0).map((r) => r.rate);
  const rate = rrRates.length > 0 ? Math.max(...rrRates) : undefined;
  const prefix = rate === undefined ? undefined : find(rows, 'pressure', 'prefix-aware', rate);
  for (const baseline of ['round-robin', NGINX_TARGET]) {
    const base = rate === undefined ? undefined : find(rows, 'pressure', baseline, rate);
    if (!prefix || !base) {
      checks.push({ target: `pressure: prefix-aware TTFT p90 ≥ 5× lower than ${baseline}`, measured: 'not run', met: undefined });
      continue;
    }
    const ttft = ratio(base.ttftMs.p90, prefix.ttftMs.p90);
    const tokens = ratio(prefix.outputTokensPerSecond, base.outputTokensPerSecond);
    checks.push({ target: `pressure: prefix-aware TTFT p90 ≥ 5× lower than ${baseline}`, measured: `${times(ttft)} at ${rate} req/s (${base.ttftMs.p90.toFixed(0)} vs ${prefix.ttftMs.p90.toFixed(0)} ms)`, met: ttft >= 5 });
    checks.push({ target: `pressure: prefix-aware output tokens/s ≥ 1.3× ${baseline}`, measured: `${times(tokens)} at ${rate} req/s`, met: tokens >= 1.3 });
  }
  const noPressureRates = [...new Set(rows.filter((r) => r.regime === 'no-pressure' && r.target === 'least-connections').map((r) => r.rate))];
  for (const strategy of ['load-aware', 'prefix-aware']) {
    const ratios = noPressureRates.flatMap((r) => {
      const base = find(rows, 'no-pressure', 'least-connections', r);
      const row = find(rows, 'no-pressure', strategy, r);
      return base && row ? [{ rate: r, value: ratio(row.ttftMs.p90, base.ttftMs.p90) }] : [];
    });
    if (ratios.length === 0) {
      checks.push({ target: `no pressure: ${strategy} TTFT p90 within 5% of least-connections`, measured: 'not run', met: undefined });
      continue;
    }
    const worst = ratios.reduce((a, b) => (b.value > a.value ? b : a));
    checks.push({ target: `no pressure: ${strategy} TTFT p90 within 5% of least-connections`, measured: `worst ${times(worst.value)} at ${worst.rate} req/s`, met: ratios.every((r) => r.value <= 1.05) });
  }
  const replicaRates = rows.filter((r) => r.regime === 'pressure' && r.target === REPLICAS_TARGET).map((r) => r.rate);
  const replicaRatios = replicaRates.flatMap((r) => {
    const one = find(rows, 'pressure', 'prefix-aware', r);
    const two = find(rows, 'pressure', REPLICAS_TARGET, r);
    return one && two ? [{ rate: r, value: ratio(two.prefixCacheHitRate, one.prefixCacheHitRate) }] : [];
  });
  if (replicaRatios.length === 0) checks.push({ target: 'two replicas: prefix-cache hit rate within 10% of one', measured: 'not run', met: undefined });
  else {
    const worst = replicaRatios.reduce((a, b) => (Math.abs(1 - b.value) > Math.abs(1 - a.value) ? b : a));
    checks.push({ target: 'two replicas: prefix-cache hit rate within 10% of one', measured: `worst ${times(worst.value)} at ${worst.rate} req/s`, met: replicaRatios.every((r) => r.value >= 0.9) });
  }
  return checks;
}

export function targetsTable(checks: readonly TargetCheck[]): string {
  const lines = checks.map((c) => `| ${c.target} | ${c.measured} | ${c.met === undefined ? '–' : c.met ? 'yes' : 'no'} |`);
  return `| Target | This run | Met |\n|---|---|---|\n${lines.join('\n')}\n`;
}
