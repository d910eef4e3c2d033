import type { IncomingMessage, Server, ServerResponse } from 'node:http';

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/** A request still running when the shutdown grace period ended. */
export interface CutRequest {
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly request_id: string | undefined;
  readonly age_ms: number;
}

/** How often idle keep-alive connections are closed while draining. */
const IDLE_SWEEP_MS = 100;

/**
 * The client requests in flight on a server, for a graceful shutdown: wait until they have all
 * ended or the grace period is over, closing keep-alive connections as they fall idle.
 */
export class InFlight {
  readonly #active = new Map<ServerResponse, { req: IncomingMessage; startedAt: number }>();
  readonly #now: () => number;
  #onEmpty: (() => void) | undefined;
  #endGrace: (() => void) | undefined;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  get size(): number {
    return this.#active.size;
  }

  /** Wraps a request listener so that its requests are counted until their response closes. */
  track(listener: Listener): Listener {
    return (req, res) => {
      this.#active.set(res, { req, startedAt: this.#now() });
      res.once('close', () => {
        this.#active.delete(res);
        if (this.#active.size === 0) this.#onEmpty?.();
      });
      listener(req, res);
    };
  }

  /**
   * Resolves when no request is in flight, or after `graceMs` with the requests still running
   * (the caller cuts them). The server should already have stopped listening.
   */
  drain(server: Server, graceMs: number): Promise<CutRequest[]> {
    server.closeIdleConnections();
    if (this.#active.size === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
      const finish = () => {
        clearInterval(sweep);
        clearTimeout(deadline);
        this.#onEmpty = undefined;
        this.#endGrace = undefined;
        resolve(this.#describe());
      };
      const deadline = setTimeout(finish, graceMs);
      this.#onEmpty = finish;
      this.#endGrace = finish;
    });
  }

  /** Ends a running drain's grace period now (a second shutdown signal). */
  endGrace(): void {
    this.#endGrace?.();
  }

  #describe(): CutRequest[] {
    const now = this.#now();
    return [...this.#active].map(([res, { req, startedAt }]) => {
      const id = res.getHeader('x-sluice-request-id');
      return { method: req.method, path: req.url, request_id: typeof id === 'string' ? id : undefined, age_ms: Math.round(now - startedAt) };
    });
  }
}
