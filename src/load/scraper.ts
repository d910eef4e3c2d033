import { describeFetchError, joinUrl, readTextCapped } from '../endpoints/index.js';
import type { LoadBoard } from './board.js';
import type { LoadReport, LoadSourceName } from './report.js';
import { LOAD_SOURCE_READERS } from './sources.js';

/** An endpoint as the scraper needs it. */
export interface LoadTarget {
  readonly name: string;
  readonly baseUrl: URL;
  readonly source: LoadSourceName;
  /** Authorization header value, if the endpoint needs one. Never logged. */
  readonly authorization?: string;
}

export type ScrapeResult = 'success' | 'failure' | 'timeout';

/** GETs a URL and returns the status and body; the narrow edge that tests replace. */
export type TextFetcher = (url: URL, headers: Record<string, string>, signal: AbortSignal) => Promise<{ status: number; body: string }>;

export interface LoadScraperOptions {
  readonly board: LoadBoard;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly fetchText?: TextFetcher;
  /** Called after every scrape (metrics, debug logs). */
  readonly onResult?: (target: LoadTarget, result: ScrapeResult, error?: string) => void;
}

const fetchText: TextFetcher = async (url, headers, signal) => {
  const res = await fetch(url, { headers, signal, redirect: 'manual' });
  // An endpoint's exposition is tens of KiB: a larger answer is refused as it arrives, not read whole.
  return { status: res.status, body: await readTextCapped(res) };
};

/** The same backend read the same way: a scrape of it may be handed over across a reload. */
const scrapeKey = (target: LoadTarget): string => `${target.name} ${target.baseUrl.href} ${target.source}`;

/** What one scrape read, not recorded yet. */
interface ScrapeOutcome {
  readonly result: ScrapeResult;
  readonly report?: LoadReport;
  readonly error?: string;
}

/**
 * Asks every endpoint with a load source for its load, each on its own timer every
 * `load.interval`, never two scrapes of one endpoint at once, each bounded by `load.timeout`.
 */
export class LoadScraper {
  readonly #targets: readonly LoadTarget[];
  readonly #opts: LoadScraperOptions;
  readonly #fetch: TextFetcher;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  /** The scrapes of the loops, by scrapeKey, while they run. */
  readonly #inFlight = new Map<string, Promise<ScrapeOutcome>>();
  #stopped = true;
  /** stop() has been called: a scrape still in flight records nothing here. */
  #ended = false;

  /** `targets`' sources are read when the scrapes start (a target may be a view of an endpoint a reload reconfigures). */
  constructor(targets: readonly LoadTarget[], options: LoadScraperOptions) {
    this.#targets = targets;
    this.#opts = options;
    this.#fetch = options.fetchText ?? fetchText;
  }

  /**
   * Scrapes every endpoint with a source now, then each on its own timer. `previous`, the
   * stopped scraper this one replaces (a reload): a backend it is still scraping, read the same
   * way, is not asked twice at once; this one records that scrape's result and its timer starts
   * from it.
   */
  start(previous?: LoadScraper): void {
    this.#stopped = false;
    for (const target of this.#targets) {
      if (target.source !== 'none') void this.#loop(target, previous ? previous.#inFlight.get(scrapeKey(target)) : undefined);
    }
  }

  /** No scrape starts any more, and one in flight is not recorded here (a successor may take it over: see start). */
  stop(): void {
    this.#stopped = true;
    this.#ended = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  /** One scrape of one endpoint, recorded on the board unless this scraper was stopped meanwhile. */
  async scrape(target: LoadTarget): Promise<ScrapeResult> {
    if (target.source === 'none') return 'success';
    const outcome = await this.#read(target);
    this.#record(target, outcome);
    return outcome.result;
  }

  async #read(target: LoadTarget): Promise<ScrapeOutcome> {
    if (target.source === 'none') return { result: 'success' };
    const reader = LOAD_SOURCE_READERS[target.source];
    const headers: Record<string, string> = { accept: reader.accept };
    if (target.authorization) headers.authorization = target.authorization;
    const url = joinUrl(target.baseUrl, reader.path);
    this.#opts.board.scrapeStarted(target.name);
    try {
      const answer = await this.#fetch(url, headers, AbortSignal.timeout(this.#opts.timeoutMs));
      if (answer.status < 200 || answer.status > 299) throw new Error(`HTTP ${answer.status}`);
      return { result: 'success', report: reader.parse(answer.body) };
    } catch (err) {
      const error = describeFetchError(err);
      return { result: error === 'timeout' ? 'timeout' : 'failure', error };
    }
  }

  #record(target: LoadTarget, { result, report, error }: ScrapeOutcome): void {
    // Stopped meanwhile (a reload): the endpoint may have left, and its series with it; a successor that kept it records instead.
    if (this.#ended) return;
    if (report) this.#opts.board.record(target.name, report);
    else if (error !== undefined) this.#opts.board.fail(target.name, error);
    this.#opts.onResult?.(target, result, error);
  }

  /** Scrapes `target` (first taking over `running`, the predecessor's scrape of it), then again every interval. */
  async #loop(target: LoadTarget, running?: Promise<ScrapeOutcome>): Promise<void> {
    if (this.#stopped) return;
    const key = scrapeKey(target);
    const scraping = running ?? this.#read(target);
    this.#inFlight.set(key, scraping);
    const outcome = await scraping;
    this.#inFlight.delete(key);
    this.#record(target, outcome);
    if (this.#stopped) return;
    const timer = setTimeout(() => void this.#loop(target), this.#opts.intervalMs);
    timer.unref();
    this.#timers.set(target.name, timer);
  }
}
