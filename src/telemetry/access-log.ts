import { logsAt, type Logger } from './logging.js';

/** The fields of one access log line; undefined ones are left out. */
export type AccessEntry = Readonly<Record<string, string | number | undefined>>;

export interface AccessLogOptions {
  /** Where a line goes (stdout, batched per turn of the event loop, by default). */
  readonly write?: (line: string) => void;
  readonly now?: () => Date;
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
  readonly #now: () => Date;
  #meta: Record<string, unknown> | undefined;
  /**
   * `#meta` as JSON members (`"service":"sluice","pid":1`), without braces ('' when it has none),
   * its names, and whether it names a leading field itself (then every line takes the general path).
   */
  #metaParts: { readonly json: string; readonly names: readonly string[]; readonly namesLeading: boolean } | undefined;

  constructor(logger: Logger, options: AccessLogOptions = {}) {
    this.#logger = logger;
    this.#write = options.write ?? writeToStdout;
    this.#now = options.now ?? (() => new Date());
  }

  write(entry: AccessEntry): void {
    if (!logsAt(this.#logger, 'info')) return;
    // winston types defaultMeta as any; createLogger always sets an object of plain fields.
    const meta = this.#logger.defaultMeta as Record<string, unknown> | undefined;
    const time = this.#now().toISOString();
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
    const fields = JSON.stringify(entry);
    const rest = fields.length > 2 ? `,${fields.slice(1)}` : '}';
    this.#write(`{"time":"${time}","level":"info","message":"request"${parts.json ? `,${parts.json}` : ''}${rest}\n`);
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
