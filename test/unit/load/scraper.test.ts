import { describe, expect, it } from 'vitest';
import { LoadBoard, LoadScraper, type LoadTarget, type TextFetcher } from '../../../src/load/index.js';

const target = (source: LoadTarget['source'], base = 'http://127.0.0.1:8000/prefix'): LoadTarget => ({ name: 'ep', baseUrl: new URL(base), source, authorization: 'Bearer t' });

function scraperWith(fetchText: TextFetcher) {
  const board = new LoadBoard({ staleAfterMs: 60_000 });
  board.track([{ name: 'ep', source: 'vllm' }]);
  const results: string[] = [];
  const scraper = new LoadScraper([], { board, intervalMs: 250, timeoutMs: 50, fetchText, onResult: (_t, result, error) => results.push(error ? `${result}: ${error}` : result) });
  return { board, scraper, results };
}

describe('LoadScraper', () => {
  it('records nothing of a scrape still in flight when it is stopped (a reload: the endpoint may have left)', async () => {
    let answer: (value: { status: number; body: string }) => void = () => undefined;
    const { board, scraper, results } = scraperWith(() => new Promise((resolve) => (answer = resolve)));
    const scraping = scraper.scrape(target('vllm'));
    scraper.stop();
    answer({ status: 200, body: 'vllm:num_requests_running 1\n' });
    await scraping;
    expect(results).toEqual([]);
    expect(board.facts('ep', undefined)).toMatchObject({ requests: undefined });
  });

  it('GETs the source path under the endpoint URL with its credentials, and records the report', async () => {
    const seen: Array<{ url: string; headers: Record<string, string> }> = [];
    const { board, scraper, results } = scraperWith(async (url, headers) => {
      seen.push({ url: url.href, headers });
      return { status: 200, body: 'vllm:num_requests_waiting{model_name="m"} 3\nvllm:num_requests_running{model_name="m"} 1\n' };
    });
    expect(await scraper.scrape(target('vllm'))).toBe('success');
    expect(seen).toEqual([{ url: 'http://127.0.0.1:8000/prefix/metrics', headers: { accept: 'text/plain', authorization: 'Bearer t' } }]);
    expect(board.facts('ep', undefined)).toMatchObject({ requests: 4, stale: false });
    expect(results).toEqual(['success']);
  });

  it('marks the data stale on an HTTP error, an unreadable answer and a timeout', async () => {
    let answer: () => Promise<{ status: number; body: string }> = async () => ({ status: 200, body: 'vllm:num_requests_running 1\n' });
    const { board, scraper, results } = scraperWith((_url, _headers, signal) => answer().then((a) => (signal.aborted ? Promise.reject(signal.reason as Error) : a)));
    await scraper.scrape(target('vllm'));
    expect(board.freshness('ep')).toBe('fresh');

    answer = async () => ({ status: 503, body: 'busy' });
    expect(await scraper.scrape(target('vllm'))).toBe('failure');
    expect(board.freshness('ep')).toBe('stale');

    answer = async () => ({ status: 200, body: 'vllm:num_requests_running 1\n' });
    await scraper.scrape(target('vllm'));
    answer = async () => ({ status: 200, body: 'not json' });
    expect(await scraper.scrape(target('ollama'))).toBe('failure');

    answer = () => new Promise((resolve) => setTimeout(() => resolve({ status: 200, body: '' }), 200));
    expect(await scraper.scrape(target('vllm'))).toBe('timeout');
    expect(board.get('ep')).toMatchObject({ lastError: 'timeout' });
    expect(results).toEqual(['success', 'failure: HTTP 503', 'success', expect.stringMatching(/^failure: .*JSON/), 'timeout: timeout']);
  });

  it('counts a 2xx answer without the family\'s metrics as a failure with its reason, and the data goes stale', async () => {
    let body = 'vllm:num_requests_running 1\n';
    const { board, scraper, results } = scraperWith(async () => ({ status: 200, body }));
    await scraper.scrape(target('vllm'));
    expect(board.freshness('ep')).toBe('fresh');

    // An SGLang server read with load_source: vllm.
    body = '# TYPE sglang:num_running_reqs gauge\nsglang:num_running_reqs{model_name="m"} 3\n';
    expect(await scraper.scrape(target('vllm'))).toBe('failure');
    expect(board.freshness('ep')).toBe('stale');
    expect(board.get('ep')).toMatchObject({ failures: 1, lastError: expect.stringMatching(/none of vllm:num_requests_running/) });

    // A login page in front of an SGLang server.
    body = '<html><body>Sign in</body></html>\n';
    expect(await scraper.scrape(target('sglang'))).toBe('failure');
    expect(results).toEqual(['success', expect.stringMatching(/^failure: answer has none of vllm:/), expect.stringMatching(/^failure: answer has none of sglang:/)]);
  });

  it('scrapes every endpoint with a source on its interval until stopped, and skips sources of none', async () => {
    let calls = 0;
    const board = new LoadBoard({ staleAfterMs: 60_000 });
    board.track([{ name: 'ep', source: 'vllm' }, { name: 'quiet', source: 'none' }]);
    const scraper = new LoadScraper([target('vllm'), { ...target('none'), name: 'quiet' }], {
      board,
      intervalMs: 10,
      timeoutMs: 50,
      fetchText: async () => {
        calls++;
        return { status: 200, body: 'vllm:num_requests_running 1\n' };
      },
    });
    scraper.start();
    const deadline = Date.now() + 5_000;
    while (calls < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    scraper.stop();
    const stoppedAt = calls;
    expect(calls).toBeGreaterThanOrEqual(3);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toBe(stoppedAt);
    expect(board.freshness('quiet')).toBe('none');
  });

  it('across a reload: a kept backend is not scraped twice at once and the scrape in flight is recorded; a moved one is scraped afresh', async () => {
    const answers: Array<{ url: string; answer: (body: string) => void }> = [];
    const fetchText: TextFetcher = (url) => new Promise((resolve) => answers.push({ url: url.href, answer: (body) => resolve({ status: 200, body }) }));
    const board = new LoadBoard({ staleAfterMs: 60_000 });
    board.track([{ name: 'ep', source: 'vllm' }, { name: 'moved', source: 'vllm' }]);
    const results: string[] = [];
    const options = { board, intervalMs: 60_000, timeoutMs: 60_000, fetchText, onResult: (t: LoadTarget, result: string) => results.push(`${t.name} ${result}`) };
    const moved = (base: string): LoadTarget => ({ ...target('vllm', base), name: 'moved' });
    const before = new LoadScraper([target('vllm'), moved('http://127.0.0.1:8001')], options);
    before.start();
    expect(answers.map((a) => a.url)).toEqual(['http://127.0.0.1:8000/prefix/metrics', 'http://127.0.0.1:8001/metrics']);

    before.stop();
    const after = new LoadScraper([target('vllm'), moved('http://127.0.0.1:8002')], options);
    after.start(before);
    // Only the moved endpoint is asked again; the kept one's scrape goes on.
    expect(answers.map((a) => a.url)).toEqual(['http://127.0.0.1:8000/prefix/metrics', 'http://127.0.0.1:8001/metrics', 'http://127.0.0.1:8002/metrics']);
    answers[0]!.answer('vllm:num_requests_running 2\n');
    answers[1]!.answer('vllm:num_requests_running 9\n');
    answers[2]!.answer('vllm:num_requests_running 1\n');
    await new Promise((resolve) => setImmediate(resolve));
    expect(board.facts('ep', undefined).requests).toBe(2);
    expect(board.facts('moved', undefined).requests).toBe(1);
    expect(results.sort()).toEqual(['ep success', 'moved success']);
    after.stop();
  });
});
