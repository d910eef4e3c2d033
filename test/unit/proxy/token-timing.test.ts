import { describe, expect, it } from 'vitest';
import { carriesContent, TokenTiming } from '../../../src/proxy/token-timing.js';

const sse = { 'content-type': 'text/event-stream' };
const ndjson = { 'content-type': 'application/x-ndjson' };

function timing(headers: Record<string, string>): { t: TokenTiming; gaps: number[] } {
  const gaps: number[] = [];
  return { t: new TokenTiming(headers, { observe: (s) => gaps.push(s) }), gaps };
}

describe('first token detection', () => {
  it('finds generated content in OpenAI and Ollama chunks, not in role-only or empty ones', () => {
    expect(carriesContent(Buffer.from('data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n'))).toBe(false);
    expect(carriesContent(Buffer.from('data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n'))).toBe(true);
    expect(carriesContent(Buffer.from('data: {"choices":[{"text":" once"}]}\n\n'))).toBe(true);
    expect(carriesContent(Buffer.from('{"model":"m","response":"Hi","done":false}\n'))).toBe(true);
    expect(carriesContent(Buffer.from('{"message":{"role":"assistant","content": "x"}}\n'))).toBe(true);
    expect(carriesContent(Buffer.from('data: [DONE]\n\n'))).toBe(false);
    // An empty content then a real one in the same chunk.
    expect(carriesContent(Buffer.from('data: {"delta":{"content":""}}\n\ndata: {"delta":{"content":"a"}}\n\n'))).toBe(true);
  });
});

describe('TokenTiming', () => {
  it('a compressed body: no first token and no gaps, rather than wrong ones', () => {
    for (const headers of [{ ...sse, 'content-encoding': 'gzip' }, { 'content-type': 'application/json', 'content-encoding': 'br' }]) {
      const { t, gaps } = timing(headers);
      // Compressed bytes can happen to contain a key's text; nothing is read from them.
      t.chunk(Buffer.from('data: {"delta":{"content":"a"}}\n\n'), 500);
      t.chunk(Buffer.from('data: {"delta":{"content":"b"}}\n\n'), 520);
      t.end(600);
      expect(t.firstTokenAt).toBeUndefined();
      expect(gaps).toEqual([]);
    }
  });

  it('a stream: the first token is the first chunk with content; gaps follow it', () => {
    const { t, gaps } = timing(sse);
    t.chunk(Buffer.from('data: {"delta":{"role":"assistant","content":""}}\n\n'), 10);
    expect(t.firstTokenAt).toBeUndefined();
    t.chunk(Buffer.from('data: {"delta":{"content":"a"}}\n\n'), 500);
    t.chunk(Buffer.from('data: {"delta":{"content":"b"}}\n\n'), 520);
    t.chunk(Buffer.from('data: {"delta":{"content":"c"}}\n\n'), 570);
    t.end(600);
    expect(t.firstTokenAt).toBe(500);
    expect(gaps.map((g) => Math.round(g * 1000))).toEqual([20, 50]);
  });

  it('NDJSON is a stream too', () => {
    const { t } = timing(ndjson);
    t.chunk(Buffer.from('{"response":"x"}\n'), 42);
    expect(t.firstTokenAt).toBe(42);
  });

  it('a response that is not streamed has its first token at the end of the body, and no gaps', () => {
    const { t, gaps } = timing({ 'content-type': 'application/json' });
    t.chunk(Buffer.from('{"choices":[{"message":{"content":"hello"}}]'), 100);
    expect(t.firstTokenAt).toBeUndefined();
    t.end(130);
    expect(t.firstTokenAt).toBe(130);
    expect(gaps).toEqual([]);
  });

  it('a stream that ends with no content has no first token', () => {
    const { t } = timing(sse);
    t.chunk(Buffer.from('data: [DONE]\n\n'), 5);
    t.end(6);
    expect(t.firstTokenAt).toBeUndefined();
  });
});

describe('first token of the Responses API', () => {
  it('a string delta is content; an object delta (chat) is not', () => {
    expect(carriesContent(Buffer.from('event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hi"}\n\n'))).toBe(true);
    expect(carriesContent(Buffer.from('event: response.created\ndata: {"type":"response.created","response":{"text":{"format":{"type":"text"}}}}\n\n'))).toBe(false);
    expect(carriesContent(Buffer.from('data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n'))).toBe(false);
  });
});
