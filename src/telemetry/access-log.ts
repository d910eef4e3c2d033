import { logsAt, type Logger } from './logging.js';

/** The fields of one access log line; undefined ones are left out. */
export type AccessEntry = Readonly<Record<string, string | number | undefined>>;

export interface AccessLogOptions {
  /** Where a line goes (stdout, batched per turn of the event loop, by default). */
  readonly write?: (line: string) => void;
  /** The wall clock, in milliseconds since the epoch. */
  readonly now?: () => number;
}

/** Fields every line starts with, in this order; an entry or the logger's fields with one of these names takes the general path. */
const LEADING = ['time', 'level', 'message'] as const;

/**
 * The access log: one JSON line per request, in the shape of every other line (`time`, `level`,
 * `message`, `service` and the logger's own fields, such as a worker's `pid`), at `info`: the
 * logger's level applies, and a reload that changes it applies at once. The line is formatted
 * here and written straight to stdout. Winston's stream pipeline (a Transform piped to the
 * console transport, and a stable stringify) cost about three times as much per line, on the
 * one line every request writes (README, Performance).
 *
 * The logger's fields are serialized once (while they stay the same object), and the lines of
 * one turn of the event loop go to stdout in one write.
 */
export class AccessLog {
  readonly #logger: Logger;
  readonly #write: (line: string) => void;
  readonly #now: () => number;
  readonly #time = new IsoTime();
  #meta: Record<string, unknown> | undefined;
  /**
   * `#meta` as JSON members (`"service":"sluice","pid":1`), without braces ('' when it has none),
   * its names, and whether it names a leading field itself (then every line takes the general path).
   */
  #metaParts: { readonly json: string; readonly names: readonly string[]; readonly namesLeading: boolean } | undefined;

  constructor(logger: Logger, options: AccessLogOptions = {}) {
    this.#logger = logger;
    this.#write = options.write ?? writeToStdout;
    this.#now = options.now ?? Date.now;
  }

  write(entry: AccessEntry): void {
    if (!logsAt(this.#logger, 'info')) return;
    // winston types defaultMeta as any; createLogger always sets an object of plain fields.
    const meta = this.#logger.defaultMeta as Record<string, unknown> | undefined;
    const time = this.#time.format(this.#now());
    if (this.#metaParts === undefined || meta !== this.#meta) {
      this.#meta = meta;
      const names = meta === undefined ? [] : Object.keys(meta);
      this.#metaParts = { json: meta === undefined ? '' : JSON.stringify(meta).slice(1, -1), names, namesLeading: names.some((n) => (LEADING as readonly string[]).includes(n)) };
    }
    const parts = this.#metaParts;
    // Joining the parts as they are would repeat a name: the general path, where the later value wins.
    if (parts.namesLeading || LEADING.some((n) => n in entry) || parts.names.some((n) => n in entry)) {
      this.#write(`${JSON.stringify({ time, level: 'info', message: 'request', ...meta, ...entry })}\n`);
      return;
    }
    this.#write(`{"time":"${time}","level":"info","message":"request"${parts.json ? `,${parts.json}` : ''}${jsonMembers(entry)}}\n`);
  }
}

/**
 * An entry's defined fields as JSON members, each after a comma: what JSON.stringify would write
 * between the braces, at about half its cost. Most of that cost was turning the durations
 * (milliseconds to one decimal) into text, which V8 does as it does for any double.
 */
function jsonMembers(entry: AccessEntry): string {
  let out = '';
  for (const name in entry) {
    const value = entry[name];
    if (value === undefined) continue;
    out += `,${memberName(name)}${typeof value === 'number' ? jsonNumber(value) : JSON.stringify(value)}`;
  }
  return out;
}

const memberNames = new Map<string, string>();
/** Entries' names are the request path's own few; past this many, names are escaped each time rather than kept. */
const MEMBER_NAMES_KEPT = 64;

/** `"name":`, escaped once per name. */
function memberName(name: string): string {
  let member = memberNames.get(name);
  if (member === undefined) {
    member = `${JSON.stringify(name)}:`;
    if (memberNames.size < MEMBER_NAMES_KEPT) memberNames.set(name, member);
  }
  return member;
}

/**
 * A number as JSON.stringify writes it. A positive number with one decimal (as the durations
 * are rounded) is written from its integer tenths, which is the same text: the shortest decimal
 * that reads back as that double is the one it was rounded to.
 */
export function jsonNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  if (value > 0 && value < 1e8) {
    const tenths = Math.round(value * 10);
    if (tenths / 10 === value) return `${(tenths - (tenths % 10)) / 10}.${tenths % 10}`;
  }
  return JSON.stringify(value);
}

/**
 * ISO 8601 times (`2026-01-02T03:04:05.678Z`, as Date#toISOString), the part up to the second
 * formatted once per second: toISOString cost a few times the rest of a line.
 */
class IsoTime {
  #second = Number.NaN;
  #prefix = '';

  format(ms: number): string {
    const whole = Math.floor(ms);
    const second = Math.floor(whole / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#prefix = new Date(second * 1000).toISOString().slice(0, -4);
    }
    const milli = whole - second * 1000;
    return `${this.#prefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
  }
}

let pending = '';
let flushing = false;

/**
 * Appends a line to what goes to stdout at the end of this turn of the event loop (one write
 * for the lines of every request that finished in it, rather than one per line); anything
 * still pending when the process exits is written then.
 */
function writeToStdout(line: string): void {
  pending += line;
  if (flushing) return;
  flushing = true;
  setImmediate(flushStdout);
}

function flushStdout(): void {
  flushing = false;
  if (pending === '') return;
  const out = pending;
  pending = '';
  process.stdout.write(out);
}

process.once('exit', flushStdout);
