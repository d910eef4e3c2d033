import { parseDuration as parseConfigDuration } from '../config/index.js';

/**
 * Parses durations written in environment variables: the config's forms ("500ms", "2s", "1.5s",
 * "1m30s") or, for convenience in shells, a bare number of milliseconds ("250").
 * Returns milliseconds, or throws a RangeError that explains what is accepted.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  // Timers work in whole milliseconds.
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed));
  try {
    return parseConfigDuration(trimmed);
  } catch {
    throw new RangeError(`"${text}" is not a duration (use e.g. 500ms, 2s, 1m or a number of milliseconds)`);
  }
}
