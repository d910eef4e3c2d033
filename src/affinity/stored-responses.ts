import { LRUCache } from 'lru-cache';

export interface StoredResponsesOptions {
  /** Response ids remembered; the least recently used are forgotten first. */
  readonly maxIds: number;
  /** An id not used for this long is forgotten. */
  readonly ttlMs: number;
  /** Clock of the TTL (milliseconds, monotonic). */
  readonly now?: () => number;
}

/** The settings when none are given; the configuration's defaults (`balancing.stored_responses`) are these. */
export const DEFAULT_STORED_RESPONSES = { maxIds: 100_000, ttlMs: 24 * 3600_000 } as const satisfies StoredResponsesOptions;

/**
 * What a remembered response id says: the endpoint (by name) that created it, and that endpoint's
 * backend then (its base URL): a name a reload points at another backend does not hold it.
 */
export interface ResponseOwner {
  readonly endpoint: string;
  readonly backend: string;
}

/** What the request path asks of the stored responses' owners (a worker's also tells the other workers). */
export interface ResponseDirectory {
  /** Known at once, or (asked of the replicas' shared store) later. */
  owner(id: string): ResponseOwner | undefined | Promise<ResponseOwner | undefined>;
  remember(id: string, owner: ResponseOwner): void;
  forget(id: string): void;
}

/**
 * Which endpoint holds which stored response. A server that keeps the responses it creates (the
 * Responses API's `store`, LM Studio, vLLM with its store on) answers a follow-up that names one
 * (`previous_response_id`, `GET /v1/responses/{id}`) only if it is the server that created it;
 * any other answers 404. Sluice learns the owner from each created response's id and sends the
 * follow-ups there. Bounded: an LRU over ids with a TTL.
 */
export class StoredResponses implements ResponseDirectory {
  readonly #owners: LRUCache<string, ResponseOwner>;

  constructor(options: StoredResponsesOptions) {
    if (!Number.isInteger(options.maxIds) || options.maxIds < 1) throw new RangeError(`stored responses maxIds must be a positive integer, got ${options.maxIds}`);
    // The clock read on each look-up (ttlResolution 0), not cached behind a timer: look-ups are few, one per follow-up.
    this.#owners = new LRUCache({ max: options.maxIds, ttl: options.ttlMs, ttlResolution: 0, updateAgeOnGet: true, ...(options.now ? { perf: { now: options.now } } : {}) });
  }

  get size(): number {
    return this.#owners.size;
  }

  /** The endpoint that created response `id`, if known. */
  owner(id: string): ResponseOwner | undefined {
    return this.#owners.get(id);
  }

  /** Response `id` was created by `owner`. */
  remember(id: string, owner: ResponseOwner): void {
    this.#owners.set(id, owner);
  }

  /** Response `id` was deleted. */
  forget(id: string): void {
    this.#owners.delete(id);
  }

  /**
   * This map for `options`: itself when it was built with them, else a new one holding what this
   * one remembers (the most recently used ids, as many as fit), so that a reload does not lose
   * where the stored responses are.
   */
  withOptions(options: StoredResponsesOptions): StoredResponses {
    if (options.maxIds === this.#owners.max && options.ttlMs === this.#owners.ttl) return this;
    const next = new StoredResponses(options);
    for (const [id, owner] of this.entries()) next.remember(id, owner);
    return next;
  }

  /** Every id remembered with its owner, the least recently used first: remembered in this order elsewhere, the most recent are kept longest. */
  entries(): Array<[string, ResponseOwner]> {
    return [...this.#owners.entries()].reverse();
  }
}
