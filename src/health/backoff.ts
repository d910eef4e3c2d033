/** Longest wait between checks of a failing endpoint, whatever its interval (unless the interval itself is longer). */
const MAX_BACKOFF_MS = 60_000;
/** The cap is also never more than this many intervals. */
const MAX_BACKOFF_INTERVALS = 12;
/** Past this exponent the delay is capped anyway; stops 2 ** n from growing without bound. */
const MAX_EXPONENT = 30;

/**
 * Delay before the next active check. The first failure keeps the interval so a blip is
 * re-checked quickly; later failures double it (x2, x4, x8, ...) up to
 * min(interval x 12, 60 s), and never below the interval itself.
 */
export function nextCheckDelayMs(intervalMs: number, consecutiveFailures: number): number {
  const doublings = Math.min(Math.max(0, Math.floor(consecutiveFailures) - 1), MAX_EXPONENT);
  const cap = Math.max(intervalMs, Math.min(intervalMs * MAX_BACKOFF_INTERVALS, MAX_BACKOFF_MS));
  return Math.min(intervalMs * 2 ** doublings, cap);
}

/**
 * Spreads a delay uniformly over +-fraction of itself so endpoints that failed together are
 * not all re-checked in the same instant. `random` returns values in [0, 1) like Math.random.
 */
export function withJitter(delayMs: number, random: () => number, fraction = 0.1): number {
  const spread = delayMs * fraction * (2 * random() - 1);
  return Math.max(0, Math.round(delayMs + spread));
}
