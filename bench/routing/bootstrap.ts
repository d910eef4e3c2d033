/**
 * Percentile-bootstrap confidence intervals for the ratio of one statistic over two independent
 * samples (e.g. TTFT p90 of one strategy over another's): each resample draws both samples again
 * with replacement, independently, from a seeded generator, so the same samples always give the
 * same interval. The interval's ends are percentiles of the resampled ratios, taken with the same
 * nearest-rank `percentile` the report uses for p90.
 */
import { createRandom } from '../../src/model-server/prng.js';
import { percentile } from './stats.js';

export interface BootstrapOptions {
  /** Number of resamples. */
  readonly resamples: number;
  /** Seed of the generator (mulberry32, `createRandom`). */
  readonly seed: number;
  /** Confidence level in percent, e.g. 95. */
  readonly levelPercent: number;
}

/** What the routing report uses: 2,000 resamples, a fixed seed, 95%. */
export const BOOTSTRAP: BootstrapOptions = { resamples: 2000, seed: 1, levelPercent: 95 };

export interface Interval {
  readonly low: number;
  readonly high: number;
}

/** `values` drawn again with replacement, as many as there are, with indices from `random`. */
export function resample(values: readonly number[], random: () => number): number[] {
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[Math.floor(random() * values.length)]!;
  return out;
}

/**
 * Bootstrap interval of `statistic(numerator) / statistic(denominator)`. NaN ends when either
 * sample is empty or a resample gives a ratio that is not finite (a zero denominator).
 */
export function ratioInterval(numerator: readonly number[], denominator: readonly number[], statistic: (values: readonly number[]) => number, options: BootstrapOptions = BOOTSTRAP): Interval {
  const none = { low: Number.NaN, high: Number.NaN };
  if (numerator.length === 0 || denominator.length === 0) return none;
  const random = createRandom(options.seed);
  const ratios = new Array<number>(options.resamples);
  for (let i = 0; i < options.resamples; i++) {
    const ratio = statistic(resample(numerator, random)) / statistic(resample(denominator, random));
    if (!Number.isFinite(ratio)) return none;
    ratios[i] = ratio;
  }
  const tail = (100 - options.levelPercent) / 2;
  return { low: percentile(ratios, tail), high: percentile(ratios, 100 - tail) };
}
