import { describe, expect, it } from 'vitest';
import { asksForStream, FirstTokenDeadline, firstTokenLimit } from '../../../src/proxy/first-token.js';

const sse = { 'content-type': 'text/event-stream; charset=utf-8' };
const ndjson = { 'content-type': 'application/x-ndjson' };
const json = { 'content-type': 'application/json' };

describe('asksForStream', () => {
  it('OpenAI paths stream only with "stream": true', () => {
    expect(asksForStream('POST', '/v1/chat/completions', { model: 'm', stream: true })).toBe(true);
    expect(asksForStream('POST', '/v1/completions', { model: 'm', stream: true })).toBe(true);
    expect(asksForStream('POST', '/v1/chat/completions', { model: 'm' })).toBe(false);
    expect(asksForStream('POST', '/v1/chat/completions', { model: 'm', stream: false })).toBe(false);
    expect(asksForStream('POST', '/v1/chat/completions', { model: 'm', stream: 'yes' })).toBe(false);
    expect(asksForStream('POST', '/v1/embeddings', { model: 'm', input: 'x' })).toBe(false);
  });

  it('only a POST asks for a stream: a HEAD or GET to a generation path generates nothing', () => {
    expect(asksForStream('HEAD', '/api/chat', undefined)).toBe(false);
    expect(asksForStream('GET', '/api/generate', undefined)).toBe(false);
    expect(asksForStream('GET', '/v1/chat/completions', { stream: true })).toBe(false);
  });

  it('Ollama generations stream unless the body says "stream": false', () => {
    expect(asksForStream('POST', '/api/chat', { model: 'm' })).toBe(true);
    expect(asksForStream('POST', '/api/generate', { model: 'm', stream: true })).toBe(true);
    expect(asksForStream('POST', '/api/generate?x=1', { model: 'm' })).toBe(true);
    expect(asksForStream('POST', '/api/chat', { model: 'm', stream: false })).toBe(false);
    expect(asksForStream('POST', '/api/embed', { model: 'm' })).toBe(false);
    expect(asksForStream('POST', '/api/chatter', { model: 'm' })).toBe(false);
  });

  it('bodies that are not JSON objects ask for no stream, except on Ollama generation paths', () => {
    expect(asksForStream('POST', '/v1/chat/completions', undefined)).toBe(false);
    expect(asksForStream('POST', '/v1/chat/completions', [{ stream: true }])).toBe(false);
    expect(asksForStream('POST', '/v1/chat/completions', null)).toBe(false);
    expect(asksForStream('POST', '/api/generate', undefined)).toBe(true);
  });
});

describe('firstTokenLimit', () => {
  it('is off unless configured, and only for streamed requests', () => {
    expect(firstTokenLimit(true, null, null)).toBeUndefined();
    expect(firstTokenLimit(false, 5_000, 2_000)).toBeUndefined();
  });

  it("takes the endpoint's own deadline over the proxy's", () => {
    expect(firstTokenLimit(true, 5_000, null)).toBe(5_000);
    expect(firstTokenLimit(true, 5_000, 20_000)).toBe(20_000);
    expect(firstTokenLimit(true, null, 20_000)).toBe(20_000);
  });
});

describe('FirstTokenDeadline', () => {
  function deadline(limitMs: number): { d: FirstTokenDeadline; clock: { ms: number } } {
    const clock = { ms: 10_000 };
    return { d: new FirstTokenDeadline(limitMs, () => clock.ms), clock };
  }

  it('runs from its creation and never goes below zero', () => {
    const { d, clock } = deadline(300);
    expect(d.limitMs).toBe(300);
    expect(d.remainingMs()).toBe(300);
    clock.ms += 120;
    expect(d.remainingMs()).toBe(180);
    clock.ms += 180;
    expect(d.remainingMs()).toBe(0);
    clock.ms += 1_000;
    expect(d.remainingMs()).toBe(0);
  });

  it('holds a streamed head for what is left, and no other response', () => {
    const { d, clock } = deadline(1_000);
    clock.ms += 250; // the response headers took this long
    expect(d.holdMs(sse)).toBe(750);
    expect(d.holdMs(ndjson)).toBe(750);
    expect(d.holdMs(json)).toBeUndefined();
    expect(d.holdMs({})).toBeUndefined();
    // A compressed stream's first token cannot be seen: its head is not held (it would be cut).
    expect(d.holdMs({ ...sse, 'content-encoding': 'gzip' })).toBeUndefined();
    expect(d.holdMs({ ...sse, 'content-encoding': 'identity' })).toBe(750);
  });
});
