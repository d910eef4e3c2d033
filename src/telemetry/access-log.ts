import { logsAt, type Logger } from './logging.js';

/** The fields of one access log line; undefined ones are left out. */
export type AccessEntry = Readonly<Record<string, string | number | undefined>>;

export interface AccessLogOptions {
  /** Where a line goes (stdout, like every other log line, by default). */
  readonly write?: (line: string) => void;
  readonly now?: () => Date;
}

/**
 * The access log: one JSON line per request, in the shape of every other line (`time`, `level`,
 * `message`, `service` and the logger's own fields, such as a worker's `pid`), at `info`: the
 * logger's level applies, and a reload that changes it applies at once. The line is formatted
 * here and written straight to stdout. Winston's stream pipeline (a Transform piped to the
 * console transport, and a stable stringify) cost about three times as much per line, on the
 * one line every request writes (README, Performance).
 */
export class AccessLog {
  readonly #logger: Logger;
  readonly #write: (line: string) => void;
  readonly #now: () => Date;

  constructor(logger: Logger, options: AccessLogOptions = {}) {
    this.#logger = logger;
    this.#write = options.write ?? ((line) => void process.stdout.write(line));
    this.#now = options.now ?? (() => new Date());
  }

  write(entry: AccessEntry): void {
    if (!logsAt(this.#logger, 'info')) return;
    // winston types defaultMeta as any; createLogger always sets an object of plain fields.
    const meta = this.#logger.defaultMeta as Record<string, unknown> | undefined;
    this.#write(`${JSON.stringify({ time: this.#now().toISOString(), level: 'info', message: 'request', ...meta, ...entry })}\n`);
  }
}
