import { describeFetchError, joinUrl } from '../endpoints/index.js';
import type { LoadBoard } from './board.js';
import type { LoadSourceName } from './report.js';
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

const MAX_BODY_CHARS = 4 * 1024 * 1024;

const fetchText: TextFetcher = async (url, headers, signal) => {
  const res = await fetch(url, { headers, signal, redirect: 'manual' });
  const body = await res.text();
  return { status: res.status, body };
};

/**
 * Asks every endpoint with a load source for its load, each on its own timer every
 * `load.interval`, never two scrapes of one endpoint at once, each bounded by `load.timeout`.
 */
export class LoadScraper {
  readonly #targets: readonly LoadTarget[];
  readonly #opts: LoadScraperOptions;
  readonly #fetch: TextFetcher;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #stopped = true;
  /** stop() has been called: a scrape still in flight records nothing. */
  #ended = false;

  constructor(targets: readonly LoadTarget[], options: LoadScraperOptions) {
    this.#targets = targets.filter((target) => target.source !== 'none');
    this.#opts = options;
    this.#fetch = options.fetchText ?? fetchText;
  }

  start(): void {
    this.#stopped = false;
    for (const target of this.#targets) void this.#loop(target);
  }

  stop(): void {
    this.#stopped = true;
    this.#ended = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  /** One scrape of one endpoint, recorded on the board. */
  async scrape(target: LoadTarget): Promise<ScrapeResult> {
    if (target.source === 'none') return 'success';
    const reader = LOAD_SOURCE_READERS[target.source];
    const headers: Record<string, string> = { accept: reader.accept };
    if (target.authorization) headers.authorization = target.authorization;
    const url = joinUrl(target.baseUrl, reader.path);
    let report: ReturnType<typeof reader.parse> | undefined;
    let error: string | undefined;
    this.#opts.board.scrapeStarted(target.name);
    try {
      const answer = await this.#fetch(url, headers, AbortSignal.timeout(this.#opts.timeoutMs));
      if (answer.status < 200 || answer.status > 299) throw new Error(`HTTP ${answer.status}`);
      if (answer.body.length > MAX_BODY_CHARS) throw new Error('answer too large');
      report = reader.parse(answer.body);
    } catch (err) {
      error = describeFetchError(err);
    }
    const result: ScrapeResult = error === undefined ? 'success' : error === 'timeout' ? 'timeout' : 'failure';
    // Stopped meanwhile (a reload; its successor scrapes afresh): the endpoint may have left, and its series with it.
    if (this.#ended) return result;
    if (error === undefined) this.#opts.board.record(target.name, report!);
    else this.#opts.board.fail(target.name, error);
    this.#opts.onResult?.(target, result, error);
    return result;
  }

  async #loop(target: LoadTarget): Promise<void> {
    if (this.#stopped) return;
    await this.scrape(target);
    if (this.#stopped) return;
    const timer = setTimeout(() => void this.#loop(target), this.#opts.intervalMs);
    timer.unref();
    this.#timers.set(target.name, timer);
  }
}
