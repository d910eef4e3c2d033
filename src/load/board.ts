import type { LoadReport, LoadSourceName } from './report.js';

/** What the scorers read of one endpoint's load. */
export interface LoadFacts {
  /**
   * Requests at the backend as it reported them (running + waiting), less those of Sluice's
   * requests it counted that completed since, plus those Sluice sent since that report; from a
   * stale report, never below Sluice's own in-flight count there; undefined when there is no
   * report, or it is older than STALE_FLOOR_LIFETIME_FACTOR × stale_after (the caller then falls
   * back to Sluice's own in-flight count).
   */
  readonly requests: number | undefined;
  /**
   * Requests queued at the backend, not yet scheduled, as its fresh report gave them (vLLM's
   * num_requests_waiting, SGLang's queue); undefined when there is no fresh report or it does
   * not say. Not corrected by Sluice's own dispatches: Sluice cannot tell whether a request it
   * sent since was scheduled at once.
   */
  readonly waiting?: number;
  /**
   * KV-cache usage 0-1; when the cache size is known, with the prompt tokens sent since the
   * report added, those of Sluice's requests the report counted as waiting (queued, holding no
   * blocks yet) added, and those of the requests it counted that completed since taken off.
   */
  readonly kvUsage: number | undefined;
  /** Estimated prompt tokens of Sluice's requests in flight there. */
  readonly tokens: number;
  /** Whether the requested model is loaded there now; undefined when unknown. */
  readonly resident: boolean | undefined;
  /** The endpoint has a load source but its data is stale (failed or late scrapes). */
  readonly stale: boolean;
  /**
   * KV-cache size in tokens from the last report that gave it, stale or not (a server's cache
   * size does not change while it runs); undefined when never reported.
   */
  readonly kvCapacityTokens?: number;
}

/** Handed out on dispatch and given back on completion, so the board removes exactly what it added. */
export interface DispatchTicket {
  readonly endpoint: string;
  readonly tokens: number;
  /** The report this dispatch followed; a newer report includes the request until it completes. */
  readonly epoch: number;
}

/** One endpoint's load as the board keeps it. */
export interface EndpointLoad {
  readonly source: LoadSourceName;
  readonly report: LoadReport | undefined;
  /** Clock time of the last successful scrape. */
  readonly reportedAt: number | undefined;
  /** Failed scrapes since the last success. */
  readonly failures: number;
  readonly lastError: string | undefined;
  /** Requests and prompt tokens Sluice sent since the last report and still in flight. */
  readonly sentRequests: number;
  readonly sentTokens: number;
  /** Requests and prompt tokens Sluice sent before the last report (so it counted them) that completed since. */
  readonly completedRequests: number;
  readonly completedTokens: number;
  /** All of Sluice's requests and prompt tokens in flight there. */
  readonly inFlightRequests: number;
  readonly inFlightTokens: number;
}

type MutableLoad = { -readonly [K in keyof EndpointLoad]: EndpointLoad[K] };

export interface LoadBoardOptions {
  /** Clock in milliseconds (Date.now by default). */
  readonly now?: () => number;
  /** A report older than this is stale (`load.stale_after`). */
  readonly staleAfterMs: number;
}

const DISPATCHED_WITHOUT_BOARD: DispatchTicket = { endpoint: '', tokens: 0, epoch: -1 };

/**
 * How long a stale report's request count stays a floor, in multiples of `load.stale_after`
 * (10 s at its default): long enough to ride out an engine too busy to answer its /metrics for a
 * while, short enough that an endpoint whose load source broke for good (a 404 after an upgrade)
 * does not carry the load of its last report until Sluice restarts. Past it the endpoint is scored
 * on Sluice's own in-flight count alone.
 */
export const STALE_FLOOR_LIFETIME_FACTOR = 5;

/**
 * What the board keeps per endpoint beyond what it shows. Dispatches are numbered by epoch: a
 * scrape starting opens a new one. A report counts what the backend had when it answered, so it
 * covers the dispatches of the epochs before its scrape started (`reportEpoch`), and perhaps not
 * those sent while it was on its way: these stay counted (`current*`) until the next report,
 * rather than vanishing for a scrape interval.
 */
interface BoardLoad extends MutableLoad {
  /** What the name points at (see track). */
  readonly backend: string | undefined;
  /** The first epoch of this backend under the name: a ticket from before was sent to the one it replaced. */
  readonly firstEpoch: number;
  epoch: number;
  reportEpoch: number;
  /** Sluice's requests and prompt tokens still in flight, dispatched in the current epoch. */
  currentRequests: number;
  currentTokens: number;
  /** A scrape started and has not answered yet. */
  scraping: boolean;
}

/**
 * The latest load report of every endpoint, with its age, corrected by what Sluice itself did
 * since that report: requests sent since are added, and requests sent before it (which the
 * report counted) that completed since are taken off. Between scrapes the added part keeps a
 * burst from herding onto the endpoint that looked idle a moment ago, and the part taken off
 * keeps an endpoint that just finished work from looking busy until the next scrape; a new
 * report resets both, since the backend now counts for itself. Sluice only knows its own
 * requests: with several replicas, the others' dispatches and completions show at the next
 * report. The part taken off never goes below what Sluice still has in flight there from before
 * the report (those the report counted and that are still at the backend). A failed scrape
 * makes the data stale: the scorers fall back to Sluice's own in-flight counts, with the last
 * report's request count (corrected the same way) as a floor until that report is
 * STALE_FLOOR_LIFETIME_FACTOR × stale_after old. Written by the scraper and by dispatch and
 * completion; read by scorers.
 */
export class LoadBoard {
  readonly #now: () => number;
  /** A report older than this is stale (`load.stale_after`); a reload may change it. */
  staleAfterMs: number;
  readonly #loads = new Map<string, BoardLoad>();
  /** Numbers the epochs of all endpoints, so a ticket never matches an epoch it was not sent in. */
  #epochs = 0;

  constructor(options: LoadBoardOptions) {
    this.#now = options.now ?? Date.now;
    this.staleAfterMs = options.staleAfterMs;
  }

  /**
   * Sets the endpoints tracked, their sources and what each name points at (`backend`, e.g. its
   * URL); others are forgotten, kept ones keep their data. A name that points at another backend
   * now starts afresh: the report, the corrections and Sluice's in-flight count were the other
   * backend's, and the requests still in flight there no longer count here when they complete.
   */
  track(endpoints: ReadonlyArray<{ readonly name: string; readonly source: LoadSourceName; readonly backend?: string }>): void {
    const wanted = new Map(endpoints.map((ep) => [ep.name, ep]));
    for (const name of this.#loads.keys()) if (!wanted.has(name)) this.#loads.delete(name);
    for (const [name, { source, backend }] of wanted) {
      const found = this.#loads.get(name);
      const known = found?.backend === backend ? found : undefined;
      if (known && known.source === source) continue;
      const epoch = ++this.#epochs;
      this.#loads.set(name, {
        backend,
        firstEpoch: known?.firstEpoch ?? epoch,
        source,
        report: undefined,
        reportedAt: undefined,
        failures: 0,
        lastError: undefined,
        sentRequests: 0,
        sentTokens: 0,
        completedRequests: 0,
        completedTokens: 0,
        inFlightRequests: known?.inFlightRequests ?? 0,
        inFlightTokens: known?.inFlightTokens ?? 0,
        epoch,
        reportEpoch: epoch,
        currentRequests: 0,
        currentTokens: 0,
        scraping: false,
      });
    }
  }

  /** A scrape of `endpoint` starts now: what is dispatched from here on may be missing from its report. */
  scrapeStarted(endpoint: string): void {
    const load = this.#loads.get(endpoint);
    if (!load) return;
    load.epoch = ++this.#epochs;
    load.currentRequests = 0;
    load.currentTokens = 0;
    load.scraping = true;
  }

  /**
   * A successful scrape: the report replaces the previous one and the local corrections start
   * over, but for the requests sent since the scrape started (a report that comes without
   * scrapeStarted, as one relayed to a cluster worker, is taken as started now).
   */
  record(endpoint: string, report: LoadReport): void {
    const load = this.#loads.get(endpoint);
    if (!load) return;
    if (!load.scraping) this.scrapeStarted(endpoint);
    load.report = report;
    load.reportedAt = this.#now();
    load.failures = 0;
    load.lastError = undefined;
    load.sentRequests = load.currentRequests;
    load.sentTokens = load.currentTokens;
    load.completedRequests = 0;
    load.completedTokens = 0;
    load.reportEpoch = load.epoch;
    load.scraping = false;
  }

  /** A failed scrape: the last report stays for display, but no longer counts. */
  fail(endpoint: string, error: string): void {
    const load = this.#loads.get(endpoint);
    if (!load) return;
    load.failures++;
    load.lastError = error;
    load.scraping = false;
  }

  dispatched(endpoint: string, tokens: number): DispatchTicket {
    const load = this.#loads.get(endpoint);
    if (!load) return DISPATCHED_WITHOUT_BOARD;
    load.sentRequests++;
    load.sentTokens += tokens;
    load.currentRequests++;
    load.currentTokens += tokens;
    load.inFlightRequests++;
    load.inFlightTokens += tokens;
    return { endpoint, tokens, epoch: load.epoch };
  }

  completed(ticket: DispatchTicket): void {
    const load = this.#loads.get(ticket.endpoint);
    if (!load || ticket.epoch < load.firstEpoch) return;
    load.inFlightRequests = Math.max(0, load.inFlightRequests - 1);
    load.inFlightTokens = Math.max(0, load.inFlightTokens - ticket.tokens);
    if (ticket.epoch >= load.reportEpoch) {
      load.sentRequests = Math.max(0, load.sentRequests - 1);
      load.sentTokens = Math.max(0, load.sentTokens - ticket.tokens);
      if (ticket.epoch === load.epoch) {
        load.currentRequests = Math.max(0, load.currentRequests - 1);
        load.currentTokens = Math.max(0, load.currentTokens - ticket.tokens);
      }
    } else {
      // Sent before the last report's scrape started: the report counted it, and it is no longer at the backend.
      load.completedRequests++;
      load.completedTokens += ticket.tokens;
    }
  }

  get(endpoint: string): EndpointLoad | undefined {
    return this.#loads.get(endpoint);
  }

  /** fresh: a report younger than stale_after and no failure since; none: no source configured. */
  freshness(endpoint: string): 'fresh' | 'stale' | 'none' {
    const load = this.#loads.get(endpoint);
    if (!load || load.source === 'none') return 'none';
    return this.#isFresh(load) ? 'fresh' : 'stale';
  }

  /** Milliseconds since the last successful scrape, undefined before the first. */
  ageMs(endpoint: string): number | undefined {
    const at = this.#loads.get(endpoint)?.reportedAt;
    return at === undefined ? undefined : Math.max(0, this.#now() - at);
  }

  /** The scorers' view of an endpoint for a request for `model` (catalog name, if any). */
  facts(endpoint: string, model: string | undefined): LoadFacts {
    const load = this.#loads.get(endpoint);
    if (!load) return { requests: undefined, kvUsage: undefined, tokens: 0, resident: undefined, stale: false };
    const fresh = this.#isFresh(load);
    const report = fresh ? load.report : undefined;
    // Sluice's requests from before the report still in flight: the report counted them, and they are still there.
    const heldRequests = Math.max(0, load.inFlightRequests - load.sentRequests);
    const heldTokens = Math.max(0, load.inFlightTokens - load.sentTokens);
    // A stale report still counts for requests, as a floor under Sluice's own in-flight count: an
    // engine too busy to answer its /metrics in time must not look idle (and draw more), and
    // with several replicas Sluice's own count is only its share. What Sluice sees complete there
    // since the report is taken off as it is from a fresh one, so an old count does not stay. The
    // floor lasts only a while: what Sluice does not see complete (other replicas' requests) has
    // most likely completed by then, and a load source that broke for good must not pin load.
    const counted = fresh || this.#floorHolds(load) ? load.report : undefined;
    let requests: number | undefined;
    if (counted && (counted.running !== undefined || counted.waiting !== undefined)) {
      const reported = (counted.running ?? 0) + (counted.waiting ?? 0);
      requests = Math.max(reported - load.completedRequests, Math.min(reported, heldRequests)) + load.sentRequests;
      if (!fresh) requests = Math.max(requests, load.inFlightRequests);
    }
    let kvUsage: number | undefined;
    if (report?.kvUsage !== undefined) {
      const capacity = report.kvCapacityTokens;
      if (!capacity) kvUsage = report.kvUsage;
      else {
        const reported = report.kvUsage * capacity;
        // A queued request holds no KV yet (vLLM allocates at admission) but takes its blocks as soon as it runs: Sluice's
        // requests the report counted as waiting add their estimated prompt tokens, so that a request does not drop out of
        // the usage when a report lands that counts it as queued (a backend with a backlog looked emptier than a busy one).
        const queued = Math.min(report.waiting ?? 0, heldRequests);
        const queuedTokens = queued > 0 ? (heldTokens * queued) / heldRequests : 0;
        // Prompt tokens are an estimate (requests share cached prefixes), so never below the report's share of what Sluice still holds.
        const left = Math.max(reported - load.completedTokens, Math.min(reported, heldTokens - queuedTokens));
        kvUsage = Math.min(1, (left + queuedTokens + load.sentTokens) / capacity);
      }
    }
    return {
      requests,
      waiting: report?.waiting,
      kvUsage,
      tokens: load.inFlightTokens,
      resident: model === undefined || report?.residentModels === undefined ? undefined : report.residentModels.has(model),
      stale: load.source !== 'none' && !fresh,
      kvCapacityTokens: load.report?.kvCapacityTokens,
    };
  }

  /** A stale report's request count is still a floor: the report is at most STALE_FLOOR_LIFETIME_FACTOR × stale_after old. */
  #floorHolds(load: EndpointLoad): boolean {
    return load.reportedAt !== undefined && this.#now() - load.reportedAt <= STALE_FLOOR_LIFETIME_FACTOR * this.staleAfterMs;
  }

  #isFresh(load: EndpointLoad): boolean {
    return load.report !== undefined && load.failures === 0 && load.reportedAt !== undefined && this.#now() - load.reportedAt <= this.staleAfterMs;
  }
}
