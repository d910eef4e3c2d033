/**
 * The routing benchmark's targets, computed from one run's rows (ratios within the run, never
 * absolute times):
 * - under cache pressure, at the highest rate where round-robin still completes every request,
 *   `prefix-aware` TTFT p90 at least 5× lower than round-robin's and nginx `least_conn`'s, and
 *   output tokens/s at least 1.3× theirs;
 * - without pressure, `load-aware` and `prefix-aware` TTFT p90 within 5% of `least-connections`;
 * - through two Sluice replicas, the backends' prefix-cache hit rate within 10% of one replica's.
 * Each TTFT p90 ratio also gets a bootstrap interval from the rows' TTFT samples: "met" still
 * judges the point estimate, and the interval says whether the run's sample size can tell.
 */
import { BOOTSTRAP, ratioInterval, type Interval } from './bootstrap.js';
import type { Row } from './report.js';
import { percentile } from './stats.js';

export const REPLICAS_TARGET = 'prefix-aware, 2 replicas';
export const NGINX_TARGET = 'nginx least_conn';

/** One TTFT p90 ratio between two rows at one rate. */
export interface RatioEstimate {
  readonly rate: number;
  /** From the two rows' TTFT p90: what the target judges. */
  readonly ratio: number;
  /** Bootstrap interval of the ratio (`BOOTSTRAP`: 95%, 2,000 resamples, fixed seed); NaN ends without samples. */
  readonly interval: Interval;
  /** The interval holds values on both sides of the threshold: at this sample size the run cannot tell whether the target is met. */
  readonly undecided: boolean;
}

export interface TargetCheck {
  readonly target: string;
  /** What this run measured, e.g. "7.20× (95% CI 4.10–9.80) at 8 req/s (4100 vs 570 ms)". */
  readonly measured: string;
  /** Undefined when the rows needed are missing. */
  readonly met: boolean | undefined;
  /** TTFT p90 targets only: the ratio at each rate compared, with its interval (empty when not run). */
  readonly ttftRatios?: readonly RatioEstimate[];
}

const find = (rows: readonly Row[], regime: Row['regime'], target: string, rate: number) => rows.find((r) => r.regime === regime && r.target === target && r.rate === rate);
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : Number.NaN);
const times = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');
const p90 = (values: readonly number[]) => percentile(values, 90);
/** The TTFT targets' rules for one ratio: "Met" applies them to the point estimate, the note to the interval's ends. */
const fiveTimesLower = (ratio: number) => ratio >= 5;
const withinFivePercent = (ratio: number) => ratio <= 1.05;
const withInterval = (e: RatioEstimate) => `${times(e.ratio)} (${BOOTSTRAP.levelPercent}% CI ${Number.isFinite(e.interval.low) ? `${e.interval.low.toFixed(2)}–${e.interval.high.toFixed(2)}` : '–'})`;

/** TTFT p90 of `numerator` over `denominator`, with its interval; `meets` is the target's rule for a ratio. */
function ttftRatio(rate: number, numerator: Row, denominator: Row, meets: (ratio: number) => boolean): RatioEstimate {
  const interval = ratioInterval(numerator.ttftSamplesMs, denominator.ttftSamplesMs, p90);
  const undecided = Number.isFinite(interval.low) && Number.isFinite(interval.high) && meets(interval.low) !== meets(interval.high);
  return { rate, ratio: ratio(numerator.ttftMs.p90, denominator.ttftMs.p90), interval, undecided };
}

export function checkTargets(rows: readonly Row[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const rrRates = rows.filter((r) => r.regime === 'pressure' && r.target === 'round-robin' && r.requests > 0 && r.failed === 0).map((r) => r.rate);
  const rate = rrRates.length > 0 ? Math.max(...rrRates) : undefined;
  const prefix = rate === undefined ? undefined : find(rows, 'pressure', 'prefix-aware', rate);
  for (const baseline of ['round-robin', NGINX_TARGET]) {
    const base = rate === undefined ? undefined : find(rows, 'pressure', baseline, rate);
    if (rate === undefined || !prefix || !base) {
      checks.push({ target: `pressure: prefix-aware TTFT p90 ≥ 5× lower than ${baseline}`, measured: 'not run', met: undefined, ttftRatios: [] });
      continue;
    }
    const ttft = ttftRatio(rate, base, prefix, fiveTimesLower);
    const tokens = ratio(prefix.outputTokensPerSecond, base.outputTokensPerSecond);
    checks.push({ target: `pressure: prefix-aware TTFT p90 ≥ 5× lower than ${baseline}`, measured: `${withInterval(ttft)} at ${rate} req/s (${base.ttftMs.p90.toFixed(0)} vs ${prefix.ttftMs.p90.toFixed(0)} ms)`, met: fiveTimesLower(ttft.ratio), ttftRatios: [ttft] });
    checks.push({ target: `pressure: prefix-aware output tokens/s ≥ 1.3× ${baseline}`, measured: `${times(tokens)} at ${rate} req/s`, met: tokens >= 1.3 });
  }
  const noPressureRates = [...new Set(rows.filter((r) => r.regime === 'no-pressure' && r.target === 'least-connections').map((r) => r.rate))];
  for (const strategy of ['load-aware', 'prefix-aware']) {
    const ratios = noPressureRates.flatMap((r) => {
      const base = find(rows, 'no-pressure', 'least-connections', r);
      const row = find(rows, 'no-pressure', strategy, r);
      return base && row ? [ttftRatio(r, row, base, withinFivePercent)] : [];
    });
    if (ratios.length === 0) {
      checks.push({ target: `no pressure: ${strategy} TTFT p90 within 5% of least-connections`, measured: 'not run', met: undefined, ttftRatios: [] });
      continue;
    }
    const worst = ratios.reduce((a, b) => (b.ratio > a.ratio ? b : a));
    checks.push({ target: `no pressure: ${strategy} TTFT p90 within 5% of least-connections`, measured: `worst ${withInterval(worst)} at ${worst.rate} req/s`, met: ratios.every((r) => withinFivePercent(r.ratio)), ttftRatios: ratios });
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

/**
 * The targets as a Markdown table. A † marks a TTFT target whose interval, at some rate, spans the
 * threshold; the notes under the table name those rates.
 */
export function targetsTable(checks: readonly TargetCheck[]): string {
  const undecided = (c: TargetCheck) => (c.ttftRatios ?? []).filter((r) => r.undecided);
  const lines = checks.map((c) => `| ${c.target} | ${c.measured}${undecided(c).length > 0 ? ' †' : ''} | ${c.met === undefined ? '–' : c.met ? 'yes' : 'no'} |`);
  let notes = '';
  if (checks.some((c) => (c.ttftRatios ?? []).length > 0)) {
    notes += `\nTTFT intervals: ${BOOTSTRAP.levelPercent}% bootstrap of the p90 ratio (each row's completed requests resampled ${BOOTSTRAP.resamples.toLocaleString('en-US')} times, seed ${BOOTSTRAP.seed}). "Met" judges the point estimate.\n`;
  }
  const flagged = checks.filter((c) => undecided(c).length > 0);
  if (flagged.length > 0) {
    notes += '\n† Not distinguishable from the threshold at this sample size (the interval holds values on both sides of it):\n';
    for (const c of flagged) notes += `- ${c.target}: ${undecided(c).map((r) => `${withInterval(r)} at ${r.rate} req/s`).join('; ')}\n`;
  }
  return `| Target | This run | Met |\n|---|---|---|\n${lines.join('\n')}\n${notes}`;
}
