import { describe, expect, it } from 'vitest';
import { LoadBoard } from '../../../src/load/index.js';

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
    expect(board.facts('v', undefined)).toMatchObject({ requests: undefined, kvUsage: undefined, stale: true, kvCapacityTokens: 32_768 });
    expect(board.facts('o', undefined).kvCapacityTokens).toBeUndefined();
  });

  it('a request dispatched before a report and completed after it does not lower the new report', () => {
    const { board } = setup();
    board.record('v', { running: 0, waiting: 0 });
    const ticket = board.dispatched('v', 10);
    board.record('v', { running: 1, waiting: 0 });
    board.dispatched('v', 10);
    board.completed(ticket);
    expect(board.facts('v', undefined).requests).toBe(2);
  });

  it('goes stale on a failed scrape or when the report gets old, and fresh again on the next report', () => {
    const { board, advance } = setup();
    board.record('v', { running: 1, waiting: 0 });
    board.fail('v', 'timeout');
    expect(board.freshness('v')).toBe('stale');
    expect(board.facts('v', undefined)).toMatchObject({ requests: undefined, kvUsage: undefined, stale: true });
    expect(board.get('v')).toMatchObject({ failures: 1, lastError: 'timeout', report: { running: 1 } });

    board.record('v', { running: 1, waiting: 0 });
    expect(board.freshness('v')).toBe('fresh');
    advance(2_000);
    expect(board.freshness('v')).toBe('fresh');
    expect(board.ageMs('v')).toBe(2_000);
    advance(1);
    expect(board.freshness('v')).toBe('stale');
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
});
