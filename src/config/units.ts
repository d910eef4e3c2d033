/**
 * Human-readable durations ("1m30s") and sizes ("10MiB") used in the configuration file.
 * Parsers throw a RangeError on invalid input; the schema turns that into a config issue.
 */

const DURATION_UNITS_MS = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type DurationUnit = keyof typeof DURATION_UNITS_MS;
/** Units in the only order they may appear in a compound duration ("1h30m", never "30m1h"). */
const DURATION_UNIT_ORDER: readonly DurationUnit[] = ['h', 'm', 's', 'ms'];

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|h|m|s)/y;

/**
 * Parse "500ms", "5s", "1.5s", "1m30s", "1h" into milliseconds.
 * Bare numbers are rejected because the unit would be ambiguous; "0" is the one exception.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  if (trimmed === '') throw new RangeError('empty duration');

  let total = 0;
  let lastUnitRank = -1;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < trimmed.length) {
    const match = DURATION_PART.exec(trimmed);
    if (!match) throw new RangeError(`invalid duration "${text}"`);
    const unit = match[2] as DurationUnit;
    const rank = DURATION_UNIT_ORDER.indexOf(unit);
    // Each unit at most once, largest first, so "1m30s" is accepted and "30s1m" or "1s1s" are not.
    if (rank <= lastUnitRank) throw new RangeError(`invalid duration "${text}"`);
    lastUnitRank = rank;
    total += Number(match[1]) * DURATION_UNITS_MS[unit];
  }
  // Float arithmetic: 1.1s is 1100.0000000000002 before rounding.
  const rounded = Math.round(total * 1000) / 1000;
  if (!Number.isInteger(rounded)) throw new RangeError(`duration "${text}" is not a whole number of milliseconds`);
  return rounded;
}

/** Render milliseconds in the most compact form parseDuration accepts: 5000 -> "5s", 90500 -> "1m30.5s". */
export function formatDuration(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) throw new RangeError(`cannot format duration ${ms}`);
  if (ms === 0) return '0s';

  const hours = Math.floor(ms / DURATION_UNITS_MS.h);
  const minutes = Math.floor((ms % DURATION_UNITS_MS.h) / DURATION_UNITS_MS.m);
  const seconds = Math.floor((ms % DURATION_UNITS_MS.m) / DURATION_UNITS_MS.s);
  const millis = ms % DURATION_UNITS_MS.s;

  let out = '';
  if (hours > 0) out += `${hours}h`;
  if (minutes > 0) out += `${minutes}m`;
  if (seconds > 0 && millis > 0) out += `${seconds}.${String(millis).padStart(3, '0').replace(/0+$/, '')}s`;
  else if (seconds > 0) out += `${seconds}s`;
  else if (millis > 0) out += `${millis}ms`;
  return out;
}

const SIZE_UNITS_BYTES: Record<string, number> = {
  B: 1,
  KB: 1_000,
  MB: 1_000_000,
  GB: 1_000_000_000,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
};

/** Largest first; binary units are preferred when rendering because limits are usually powers of two. */
const SIZE_FORMAT_ORDER = ['GiB', 'MiB', 'KiB', 'GB', 'MB', 'KB'] as const;

const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?$/;

/** Parse "512B", "64KiB", "10MiB", "1GiB", "2MB" (1000-based) or a bare integer (bytes) into bytes. */
export function parseSize(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isSafeInteger(text) || text < 0) throw new RangeError(`invalid size ${text}`);
    return text;
  }
  const match = SIZE_PATTERN.exec(text.trim());
  if (!match) throw new RangeError(`invalid size "${text}"`);
  const [, amount, unit] = match;
  if (unit === undefined && amount.includes('.')) throw new RangeError(`invalid size "${text}"`);
  const bytes = Number(amount) * SIZE_UNITS_BYTES[unit ?? 'B'];
  if (!Number.isSafeInteger(bytes)) throw new RangeError(`size "${text}" is not a whole number of bytes`);
  return bytes;
}

/** Render bytes with the largest unit that divides them exactly: 10485760 -> "10MiB", 1000 -> "1KB", 1500 -> "1500B". */
export function formatSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`cannot format size ${bytes}`);
  if (bytes === 0) return '0B';
  for (const unit of SIZE_FORMAT_ORDER) {
    const unitBytes = SIZE_UNITS_BYTES[unit];
    if (bytes % unitBytes === 0) return `${bytes / unitBytes}${unit}`;
  }
  return `${bytes}B`;
}
