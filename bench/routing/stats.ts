/** Nearest-rank percentile of `values` (0 < p <= 100); NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Hit rate from the backends' counter deltas (hits and queries in tokens); NaN without queries. */
export function hitRate(hitsDelta: number, queriesDelta: number): number {
  return queriesDelta > 0 ? hitsDelta / queriesDelta : Number.NaN;
}
