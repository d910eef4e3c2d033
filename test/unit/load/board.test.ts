import { describe, expect, it } from 'vitest';
import { LoadBoard, STALE_FLOOR_LIFETIME_FACTOR } from '../../../src/load/index.js';

function setup() {
  let now = 1_000;
  const board = new LoadBoard({ now: () => now, staleAfterMs: 2_000 });
  board.track([
    { name: 'v', source: 'vllm' },
    { name: 'o', source: 'ollama' },
    { name: 'plain', source: 'none' },
  ]);
  return { board, advance: (ms: number) => (now += ms) };
}

describe('LoadBoard', () => {
  it('has no data and is stale until the first report', () => {
    const { board } = setup();
    expect(board.freshness('v')).toBe('stale');
    expect(board.facts('v', 'm')).toEqual({ requests: undefined, kvUsage: undefined, tokens: 0, resident: undefined, stale: true });
    expect(board.freshness('plain')).toBe('none');
    expect(board.facts('plain', 'm').stale).toBe(false);
  });

  it('adds what Sluice sent since the report, and forgets it at the next report', () => {
    const { board, advance } = setup();
    board.record('v', { running: 2, waiting: 1, kvUsage: 0.5, kvCapacityTokens: 10_000 });
    const first = board.dispatched('v', 1_000);
    board.dispatched('v', 500);
    expect(board.facts('v', 'm')).toMatchObject({ requests: 5, kvUsage: 0.65, tokens: 1_500, stale: false });
    board.completed(first);
    expect(board.facts('v', 'm')).toMatchObject({ requests: 4, kvUsage: 0.55, tokens: 500 });

    // The backend now counts the request still in flight itself.
    advance(250);
    board.record('v', { running: 3, waiting: 0, kvUsage: 0.6, kvCapacityTokens: 10_000 });
    expect(board.facts('v', 'm')).toMatchObject({ requests: 3, kvUsage: 0.6, tokens: 500 });
    const after = board.dispatched('v', 100);
    expect(board.facts('v', 'm').requests).toBe(4);
    board.completed(after);
    expect(board.facts('v', 'm').requests).toBe(3);
    expect(board.get('v')).toMatchObject({ inFlightRequests: 1, inFlightTokens: 500, sentRequests: 0 });
  });

  it('keeps the KV-cache size of the last report when the data goes stale, and has none before', () => {
    const { board } = setup();
    expect(board.facts('v', undefined).kvCapacityTokens).toBeUndefined();
    board.record('v', { running: 1, waiting: 0, kvUsage: 0.2, kvCapacityTokens: 32_768 });
    expect(board.facts('v', undefined).kvCapacityTokens).toBe(32_768);
    board.fail('v', 'timeout');
    expect(board.facts('v', undefined)).toMatchObject({ requests: 1, kvUsage: undefined, stale: true, kvCapacityTokens: 32_768 });
    expect(board.facts('o', undefined).kvCapacityTokens).toBeUndefined();
  });

  it('passes on the queue a fresh report gave, uncorrected, and none without a fresh report', () => {
    const { board, advance } = setup();
    expect(board.facts('v', 'm').waiting).toBeUndefined();
    board.record('v', { running: 2, waiting: 3, kvUsage: 0.5 });
    board.dispatched('v', 100);
    expect(board.facts('v', 'm')).toMatchObject({ requests: 6, waiting: 3 });
    board.record('v', { running: 4, waiting: 0 });
    expect(board.facts('v', 'm').waiting).toBe(0);
    board.record('o', { residentModels: new Set(['m']) });
    expect(board.facts('o', 'm').waiting).toBeUndefined();
    advance(2_001);
    expect(board.facts('v', 'm').waiting).toBeUndefined();
  });

  it('a request the report counted and that completed since no longer counts', () => {
    const { board, advance } = setup();
    board.record('v', { running: 0, waiting: 0 });
    const early = board.dispatched('v', 10);
    board.dispatched('v', 10);
    // Both are running at the backend when it reports; another Sluice replica has one more there.
    advance(250);
    board.record('v', { running: 3, waiting: 0 });
    board.dispatched('v', 10);
    expect(board.facts('v', undefined).requests).toBe(4);
    board.completed(early);
    // Backend: the other replica's request, Sluice's second one and the one sent since the report.
    expect(board.facts('v', undefined).requests).toBe(3);
    expect(board.get('v')).toMatchObject({ completedRequests: 1, sentRequests: 1, inFlightRequests: 2 });
    // The next report counts the completion itself.
    advance(250);
    board.record('v', { running: 3, waiting: 0 });
    expect(board.facts('v', undefined).requests).toBe(3);
    expect(board.get('v')).toMatchObject({ completedRequests: 0, sentRequests: 0 });
  });

  it('a request sent while a scrape was on its way still counts after its report, until the next one', () => {
    const { board } = setup();
    board.record('v', { running: 0, waiting: 0 });
    board.scrapeStarted('v');
    // Sent after the scrape asked: the backend may answer before it sees this request.
    const late = board.dispatched('v', 100);
    board.record('v', { running: 0, waiting: 0 });
    expect(board.facts('v', 'm').requests).toBe(1);
    // The next scrape started after it was sent: its report covers it.
    board.scrapeStarted('v');
    board.record('v', { running: 1, waiting: 0 });
    expect(board.facts('v', 'm').requests).toBe(1);
    board.completed(late);
    expect(board.facts('v', 'm').requests).toBe(0);
  });

  it('a request sent before a scrape started and completed while it was on its way counts neither in the report nor locally', () => {
    const { board } = setup();
    board.record('v', { running: 0, waiting: 0 });
    const early = board.dispatched('v', 100);
    board.scrapeStarted('v');
    const during = board.dispatched('v', 100);
    expect(board.facts('v', 'm').requests).toBe(2);
    board.completed(early);
    expect(board.facts('v', 'm').requests).toBe(1);
    // The backend answered with the one still running.
    board.record('v', { running: 1, waiting: 0 });
    // `during` may or may not be in that report: it is counted once more until the next report.
    expect(board.facts('v', 'm').requests).toBe(2);
    board.completed(during);
    expect(board.facts('v', 'm').requests).toBe(1);
    board.scrapeStarted('v');
    board.record('v', { running: 0, waiting: 0 });
    expect(board.facts('v', 'm').requests).toBe(0);
  });

  it('a failed scrape leaves the requests sent meanwhile counted', () => {
    const { board } = setup();
    board.record('v', { running: 0, waiting: 0 });
    board.scrapeStarted('v');
    board.dispatched('v', 100);
    board.fail('v', 'timeout');
    board.scrapeStarted('v');
    board.record('v', { running: 1, waiting: 0 });
    expect(board.facts('v', 'm').requests).toBe(1);
  });

  it('never counts fewer requests than Sluice has in flight there', () => {
    const { board } = setup();
    board.record('v', { running: 0, waiting: 0 });
    const counted = board.dispatched('v', 10);
    const racing = board.dispatched('v', 10);
    // The report raced the second request and counted only the first.
    board.record('v', { running: 1, waiting: 0 });
    board.completed(counted);
    expect(board.facts('v', undefined).requests).toBe(1);
    board.completed(racing);
    expect(board.facts('v', undefined).requests).toBe(0);
    board.dispatched('v', 10);
    expect(board.facts('v', undefined).requests).toBe(1);
  });

  it('frees the estimated KV of a request the report counted when it completes', () => {
    const { board } = setup();
    board.record('v', { running: 0, waiting: 0, kvUsage: 0, kvCapacityTokens: 10_000 });
    const early = board.dispatched('v', 2_000);
    board.dispatched('v', 1_000);
    board.record('v', { running: 2, waiting: 0, kvUsage: 0.3, kvCapacityTokens: 10_000 });
    board.dispatched('v', 500);
    expect(board.facts('v', undefined).kvUsage).toBeCloseTo(0.35);
    board.completed(early);
    expect(board.facts('v', undefined)).toMatchObject({ requests: 2, tokens: 1_500 });
    expect(board.facts('v', undefined).kvUsage).toBeCloseTo(0.15);
  });

  it('keeps counting the KV of a request when a report counts it as queued, where it holds no blocks yet', () => {
    const { board, advance } = setup();
    board.record('v', { running: 0, waiting: 0, kvUsage: 0, kvCapacityTokens: 10_000 });
    const running = board.dispatched('v', 2_000);
    board.dispatched('v', 2_000);
    expect(board.facts('v', undefined).kvUsage).toBeCloseTo(0.4);
    // The backend admitted the first (its blocks are in the usage) and queued the second.
    advance(250);
    board.record('v', { running: 1, waiting: 1, kvUsage: 0.2, kvCapacityTokens: 10_000 });
    expect(board.facts('v', undefined)).toMatchObject({ requests: 2, tokens: 4_000 });
    expect(board.facts('v', undefined).kvUsage).toBeCloseTo(0.4);
    // The running one completes: the queued one is still counted, by its share of what Sluice holds there.
    board.completed(running);
    expect(board.facts('v', undefined).kvUsage).toBeCloseTo(0.2);
    // Requests queued that are not Sluice's (another replica's) add nothing: their size is unknown.
    advance(250);
    board.record('v', { running: 1, waiting: 3, kvUsage: 0.2, kvCapacityTokens: 10_000 });
    expect(board.facts('v', undefined).kvUsage).toBeCloseTo(0.4);
  });

  it('lowers the estimated KV no further than what Sluice still has in flight from before the report', () => {
    const { board } = setup();
    board.record('v', { running: 0, waiting: 0 });
    const a = board.dispatched('v', 2_000);
    board.dispatched('v', 2_000);
    // Both share a cached prefix: the engine holds fewer tokens than the two prompts.
    board.record('v', { running: 2, waiting: 0, kvUsage: 0.25, kvCapacityTokens: 10_000 });
    board.completed(a);
    expect(board.facts('v', undefined).kvUsage).toBeCloseTo(0.2);
  });

  it('goes stale on a failed scrape or when the report gets old, and fresh again on the next report', () => {
    const { board, advance } = setup();
    board.record('v', { running: 1, waiting: 0 });
    board.fail('v', 'timeout');
    expect(board.freshness('v')).toBe('stale');
    expect(board.facts('v', undefined)).toMatchObject({ requests: 1, kvUsage: undefined, stale: true });
    expect(board.get('v')).toMatchObject({ failures: 1, lastError: 'timeout', report: { running: 1 } });

    board.record('v', { running: 1, waiting: 0 });
    expect(board.freshness('v')).toBe('fresh');
    advance(2_000);
    expect(board.freshness('v')).toBe('fresh');
    expect(board.ageMs('v')).toBe(2_000);
    advance(1);
    expect(board.freshness('v')).toBe('stale');
  });

  it('a stale report stays a floor for requests: a backend too busy to report does not look idle, and what completes since comes off', () => {
    const { board } = setup();
    const before = [board.dispatched('v', 10), board.dispatched('v', 10)];
    board.record('v', { running: 8, waiting: 30, kvUsage: 0.9 });
    board.fail('v', 'timeout');
    // Sluice holds 2 of the 38 the backend reported: stale, it is scored on 38, not 2.
    expect(board.facts('v', undefined)).toMatchObject({ requests: 38, kvUsage: undefined, stale: true });
    board.completed(before[0]!);
    expect(board.facts('v', undefined).requests).toBe(37);
    // Never below what Sluice itself has in flight there.
    board.record('v', { running: 0, waiting: 0 });
    board.fail('v', 'timeout');
    for (let i = 0; i < 3; i++) board.dispatched('v', 10);
    expect(board.facts('v', undefined)).toMatchObject({ requests: 4, stale: true });
  });

  it('a stale report is a floor only for a while: a load source broken for good does not carry phantom load', () => {
    const { board, advance } = setup();
    const floorMs = STALE_FLOOR_LIFETIME_FACTOR * 2_000;
    board.record('v', { running: 20, waiting: 0 });
    const held = board.dispatched('v', 10);
    // Its /metrics answers 404 from now on (an upgrade moved it), one failed scrape every 250 ms.
    const failFor = (ms: number) => {
      for (let t = 0; t < ms; t += 250) {
        advance(250);
        board.fail('v', 'HTTP 404');
      }
    };
    failFor(floorMs);
    expect(board.ageMs('v')).toBe(floorMs);
    expect(board.facts('v', undefined)).toMatchObject({ requests: 21, stale: true });
    advance(1);
    // Scored on Sluice's own in-flight count alone (the scorer's fallback), the report kept for display.
    expect(board.facts('v', undefined)).toMatchObject({ requests: undefined, kvUsage: undefined, stale: true });
    failFor(60 * 60 * 1_000);
    expect(board.facts('v', undefined)).toMatchObject({ requests: undefined, stale: true });
    expect(board.get('v')).toMatchObject({ report: { running: 20 }, inFlightRequests: 1 });
    board.completed(held);

    // A report again: it counts at once, and its floor lasts as long again.
    board.record('v', { running: 4, waiting: 1 });
    board.fail('v', 'timeout');
    expect(board.facts('v', undefined)).toMatchObject({ requests: 5, stale: true });
    advance(floorMs + 1);
    expect(board.facts('v', undefined).requests).toBeUndefined();
  });

  it('the floor\'s lifetime follows a new stale_after (a reload)', () => {
    const { board, advance } = setup();
    board.record('v', { running: 7, waiting: 0 });
    board.fail('v', 'timeout');
    advance(STALE_FLOOR_LIFETIME_FACTOR * 2_000 + 1);
    expect(board.facts('v', undefined).requests).toBeUndefined();
    board.staleAfterMs = 4_000;
    expect(board.facts('v', undefined).requests).toBe(7);
  });

  it('applies a new stale_after (a reload) to the data it already has', () => {
    const { board, advance } = setup();
    board.record('v', { running: 1, waiting: 0, kvUsage: 0.1, kvCapacityTokens: 10_000 });
    advance(1_500);
    expect(board.freshness('v')).toBe('fresh');
    board.staleAfterMs = 1_000;
    expect(board.freshness('v')).toBe('stale');
    board.staleAfterMs = 5_000;
    expect(board.freshness('v')).toBe('fresh');
  });

  it('knows whether the requested model is resident from a model-state report', () => {
    const { board } = setup();
    board.record('o', { residentModels: new Set(['llama3:latest']) });
    expect(board.facts('o', 'llama3:latest')).toMatchObject({ resident: true, requests: undefined });
    expect(board.facts('o', 'qwen:7b').resident).toBe(false);
    expect(board.facts('o', undefined).resident).toBeUndefined();
  });

  it('keeps tracked endpoints across a re-track and forgets removed ones', () => {
    const { board } = setup();
    board.record('v', { running: 4 });
    board.track([{ name: 'v', source: 'vllm' }]);
    expect(board.facts('v', undefined).requests).toBe(4);
    expect(board.get('o')).toBeUndefined();
    // Dispatch and completion on an unknown endpoint are harmless.
    board.completed(board.dispatched('gone', 5));
  });

  it('a name that points at another backend starts afresh: the old report, in-flight count and completions are not the new one\'s', () => {
    const { board } = setup();
    board.track([{ name: 'v', source: 'vllm', backend: 'http://10.0.0.1:8000/' }]);
    board.record('v', { running: 6, waiting: 2, kvUsage: 0.9 });
    const before = board.dispatched('v', 100);
    board.track([{ name: 'v', source: 'vllm', backend: 'http://10.0.0.1:8000/' }]);
    expect(board.facts('v', undefined)).toMatchObject({ requests: 9, stale: false });

    board.track([{ name: 'v', source: 'vllm', backend: 'http://10.0.0.2:8000/' }]);
    expect(board.facts('v', undefined)).toMatchObject({ requests: undefined, kvUsage: undefined, tokens: 0, stale: true });
    expect(board.get('v')).toMatchObject({ inFlightRequests: 0, sentRequests: 0 });
    // The new backend reports; a request sent to the old one completing does not lower its count.
    board.record('v', { running: 1 });
    board.completed(before);
    expect(board.facts('v', undefined).requests).toBe(1);
    expect(board.get('v')).toMatchObject({ completedRequests: 0, inFlightRequests: 0 });
  });
});
