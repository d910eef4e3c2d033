/**
 * Parses durations written in environment variables: "500ms", "2s", "1.5s", "1m", or a bare number
 * of milliseconds ("250"). Returns milliseconds, or throws a RangeError that explains what is accepted.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };
const DURATION_PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/;

export function parseDuration(text: string): number {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) {
    throw new RangeError(`"${text}" is not a duration (use e.g. 500ms, 2s, 1m or a number of milliseconds)`);
  }
  const amount = Number(match[1]);
  const unit = match[2] ?? 'ms';
  // Timers work in whole milliseconds.
  return Math.round(amount * UNIT_MS[unit]!);
}
