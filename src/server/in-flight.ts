import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** A request listener; it may return the id it gave the request, for the log of a request cut at shutdown. */
type Listener = (req: IncomingMessage, res: ServerResponse) => string | void;

/** A request still running when the shutdown grace period ended. */
export interface CutRequest {
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly request_id: string | undefined;
  readonly age_ms: number;
}

/** How often idle keep-alive connections are closed while draining. */
const IDLE_SWEEP_MS = 100;

/** Requests still running when a shutdown's grace period ended, and cut (see wasCutAtShutdown). */
const cutAtShutdown = new WeakSet<object>();

/**
 * Whether a request was cut because the shutdown grace period ended: its client did not leave,
 * Sluice ended it (recorded as Sluice's failure, not the client's or the endpoint's).
 */
export function wasCutAtShutdown(req: object): boolean {
  return cutAtShutdown.has(req);
}

/** One request in flight: a node of the tracker's list, unlinked (and emptied) when its response closes. */
interface Entry {
  req: IncomingMessage | undefined;
  res: ServerResponse | undefined;
  /** The request's id, as its listener returned it. */
  id: string | undefined;
  readonly startedAt: number;
  prev: Entry | undefined;
  next: Entry | undefined;
}

/**
 * The client requests in flight on a server, for a graceful shutdown: wait until they have all
 * ended or the grace period is over, closing keep-alive connections as they fall idle.
 *
 * Kept as a linked list rather than a Map or Set keyed by the response. Measured under load
 * (`--trace-gc-nvp`, 64 connections), making every response a hash key cost about 2 MB of
 * young-generation survivors at each scavenge, promoted at about 8 KB per request; with the list
 * it is about 0.5 MB and 1 KB, and scavenges take a quarter of the time. A Map keyed by a small
 * object of its own measured the same as the list, so it is the response as a key that costs.
 */
export class InFlight {
  #first: Entry | undefined;
  #size = 0;
  readonly #now: () => number;
  #onEmpty: (() => void) | undefined;
  #endGrace: (() => void) | undefined;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Whether a response has ended but is still being written: its last bytes wait for the client
   * to read (a slow client, a large body), not yet handed to the OS.
   */
  get writing(): boolean {
    for (let entry = this.#first; entry; entry = entry.next) {
      if (entry.res?.writableEnded && !entry.res.writableFinished) return true;
    }
    return false;
  }

  /** Wraps a request listener so that its requests are counted until their response closes. */
  track(listener: Listener): Listener {
    return (req, res) => {
      const entry: Entry = { req, res, id: undefined, startedAt: this.#now(), prev: undefined, next: this.#first };
      if (this.#first) this.#first.prev = entry;
      this.#first = entry;
      this.#size++;
      res.once('close', () => this.#remove(entry));
      // The id from the listener: Sluice writes its headers in writeHead, where getHeader cannot see them.
      const id = listener(req, res);
      if (typeof id === 'string' && entry.res) entry.id = id;
    };
  }

  #remove(entry: Entry): void {
    if (entry.res === undefined) return;
    if (entry.prev) entry.prev.next = entry.next;
    else this.#first = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    entry.prev = entry.next = entry.req = entry.res = entry.id = undefined;
    this.#size--;
    if (this.#size === 0) this.#onEmpty?.();
  }

  /**
   * Resolves when no request is in flight, or after `graceMs` with the requests still running
   * (the caller cuts them). The server should already have stopped listening.
   */
  drain(server: Server, graceMs: number): Promise<CutRequest[]> {
    server.closeIdleConnections();
    if (this.#size === 0) return Promise.resolve([]);
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

  /**
   * Resolves once every request has ended and what ends one (recording it: metrics, the access
   * log) has run, or after `timeoutMs`: after the cut, before the process exits.
   */
  settled(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(deadline);
        this.#onEmpty = undefined;
        // Ending a request takes a few turns of promises after its response closes.
        setImmediate(resolve);
      };
      const deadline = setTimeout(done, timeoutMs);
      if (this.#size === 0) done();
      else this.#onEmpty = done;
    });
  }

  /** Ends a running drain's grace period now (a second shutdown signal). */
  endGrace(): void {
    this.#endGrace?.();
  }

  #describe(): CutRequest[] {
    const now = this.#now();
    const cut: CutRequest[] = [];
    for (let entry = this.#first; entry; entry = entry.next) {
      const { req, id, startedAt } = entry;
      if (req) cutAtShutdown.add(req);
      cut.push({ method: req?.method, path: req?.url, request_id: id, age_ms: Math.round(now - startedAt) });
    }
    return cut.reverse();
  }
}
