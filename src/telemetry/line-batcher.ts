/** How a batcher defers its flush to the end of the current turn of the event loop (setImmediate by default). */
export type Scheduler = (flush: () => void) => void;

export interface LineBatcherOptions {
  /** Flush at once when this many characters are waiting (64 KiB by default). */
  readonly maxChars?: number;
  readonly schedule?: Scheduler;
}

const DEFAULT_MAX_CHARS = 64 * 1024;

/**
 * Gathers log lines written during one turn of the event loop and writes them together: one
 * write (one system call: stdout to a file or a pipe is written synchronously on Linux) for all
 * the requests that finished in that turn, instead of one each. Lines keep their order; nothing
 * waits longer than the turn, or than `maxChars` of lines; `flush()` writes what is waiting now
 * (at exit).
 */
export class LineBatcher {
  readonly #write: (chunk: string) => void;
  readonly #maxChars: number;
  readonly #schedule: Scheduler;
  #pending = '';
  #scheduled = false;

  constructor(write: (chunk: string) => void, options: LineBatcherOptions = {}) {
    this.#write = write;
    this.#maxChars = options.maxChars ?? DEFAULT_MAX_CHARS;
    this.#schedule = options.schedule ?? ((flush) => void setImmediate(flush));
  }

  push(line: string): void {
    this.#pending += line;
    if (this.#pending.length >= this.#maxChars) {
      this.flush();
      return;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#schedule(() => {
      this.#scheduled = false;
      this.flush();
    });
  }

  flush(): void {
    if (this.#pending.length === 0) return;
    const chunk = this.#pending;
    this.#pending = '';
    this.#write(chunk);
  }
}

let stdoutBatcher: LineBatcher | undefined;

/** The process's one batcher for stdout, flushed when the process exits. */
export function stdoutLines(): LineBatcher {
  if (!stdoutBatcher) {
    const batcher = new LineBatcher((chunk) => void process.stdout.write(chunk));
    process.once('exit', () => batcher.flush());
    stdoutBatcher = batcher;
  }
  return stdoutBatcher;
}
