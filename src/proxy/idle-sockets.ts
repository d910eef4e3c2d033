/** What the sweep reads of a pooled connection. */
export interface PooledSocket {
  readonly bytesRead: number;
  readonly bytesWritten: number;
  destroy(): void;
}

/** What the sweep reads of a keep-alive agent: its idle connections, by host. */
export interface SocketPool {
  readonly freeSockets: Readonly<Record<string, readonly PooledSocket[] | undefined>>;
}

export interface IdleSocketOptions {
  /** An idle connection is closed once it has sat unused this long (at most; at least `idleMs - everyMs`). */
  readonly idleMs: number;
  /** How often the pool is looked at. */
  readonly everyMs: number;
  readonly now?: () => number;
}

/**
 * Closes keep-alive connections that have sat idle in an agent's pool for about `idleMs`, so that
 * Sluice rarely reuses a connection the backend is about to close. One timer per agent looks at
 * the pool every `everyMs`; an agent's own `timeout` would instead put a timer on every socket,
 * moved in Node's timer list on every read and write of every request.
 *
 * A connection counts as idle from the first sweep that finds it in the pool with the same byte
 * counts as the sweep before: it was last used at most `everyMs` earlier, so it is closed
 * between `idleMs - everyMs` and `idleMs` after its last use.
 */
export class IdleSocketSweeper {
  readonly #pool: SocketPool;
  readonly #idleMs: number;
  readonly #everyMs: number;
  readonly #now: () => number;
  /** Per pooled connection: its byte count when last swept, and since when it has not moved. */
  readonly #seen = new WeakMap<PooledSocket, { bytes: number; since: number }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(pool: SocketPool, options: IdleSocketOptions) {
    this.#pool = pool;
    this.#idleMs = options.idleMs;
    this.#everyMs = options.everyMs;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Sweeps every `everyMs` until stop(); the timer does not keep the process alive. */
  start(): this {
    this.#timer ??= setInterval(() => this.sweep(), this.#everyMs).unref();
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Closes the pooled connections idle for long enough; notes when the others were last seen in use. */
  sweep(): void {
    const now = this.#now();
    for (const name in this.#pool.freeSockets) {
      for (const socket of this.#pool.freeSockets[name] ?? []) {
        const bytes = socket.bytesRead + socket.bytesWritten;
        const seen = this.#seen.get(socket);
        if (!seen || seen.bytes !== bytes) this.#seen.set(socket, { bytes, since: now });
        else if (now - seen.since + this.#everyMs >= this.#idleMs) socket.destroy();
      }
    }
  }
}
