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

describe('first token across chunk boundaries', () => {
  /** Feeds `parts` as chunks at times 10, 20, 30 ... and returns the time of the first token. */
  function firstAt(parts: string[]): number | undefined {
    const { t } = timing(sse);
    parts.forEach((p, i) => t.chunk(Buffer.from(p), (i + 1) * 10));
    return t.firstTokenAt;
  }

  it('a key split between two chunks is found in the second', () => {
    expect(firstAt(['data: {"choices":[{"delta":{"cont', 'ent":"Hello"}}]}\n\n'])).toBe(20);
    expect(firstAt(['data: {"choices":[{"delta":{"content":', '"Hello"}}]}\n\n'])).toBe(20);
  });

  it('a key that ends a chunk waits for its value: a first letter counts, an empty string does not', () => {
    expect(firstAt(['data: {"delta":{"content":"', 'Hi"}}\n\n'])).toBe(20);
    expect(firstAt(['data: {"delta":{"content":"', '"}}\n\n', 'data: {"delta":{"content":"a"}}\n\n'])).toBe(30);
  });

  it('one byte at a time: the first token is the chunk that brings the value\'s first letter', () => {
    const event = 'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\ndata: {"choices":[{"delta":{"content":"Hi"}}]}\n\n';
    const letter = event.lastIndexOf('Hi');
    expect(firstAt([...event])).toBe((letter + 1) * 10);
  });

  it('NDJSON lines split anywhere', () => {
    const { t } = timing(ndjson);
    t.chunk(Buffer.from('{"model":"m","created_at":"x","respo'), 10);
    t.chunk(Buffer.from('nse":"Once","done":false}\n'), 20);
    expect(t.firstTokenAt).toBe(20);
  });
});

describe('first token of reasoning models and tool calls', () => {
  it('reasoning and thinking text counts (vLLM, DeepSeek, Ollama)', () => {
    expect(carriesContent(Buffer.from('data: {"choices":[{"delta":{"reasoning_content":"Let me"}}]}\n\n'))).toBe(true);
    expect(carriesContent(Buffer.from('data: {"choices":[{"delta":{"reasoning": "First,"}}]}\n\n'))).toBe(true);
    expect(carriesContent(Buffer.from('{"message":{"role":"assistant","content":"","thinking":"Hmm"},"done":false}\n'))).toBe(true);
    expect(carriesContent(Buffer.from('data: {"choices":[{"delta":{"reasoning_content":""}}]}\n\n'))).toBe(false);
  });

  it('a tool call counts (OpenAI names the function first; Ollama sends the call whole)', () => {
    expect(carriesContent(Buffer.from('data: {"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}\n\n'))).toBe(true);
    expect(carriesContent(Buffer.from('{"message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":{"city":"Oslo"}}}]},"done":false}\n'))).toBe(true);
    expect(carriesContent(Buffer.from('data: {"choices":[{"delta":{"tool_calls":[]}}]}\n\n'))).toBe(false);
  });

  it('an Anthropic Messages stream: its tool call opens with the name, then streams its input; text and thinking deltas count, an empty opening text block does not', () => {
    const event = (type: string, data: string) => Buffer.from(`event: ${type}\ndata: {"type":"${type}",${data}}\n\n`);
    expect(carriesContent(event('content_block_start', '"index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}'))).toBe(true);
    expect(carriesContent(event('content_block_delta', '"index":0,"delta":{"type":"input_json_delta","partial_json":"{\\"city\\": "}'))).toBe(true);
    expect(carriesContent(event('content_block_delta', '"index":0,"delta":{"type":"input_json_delta","partial_json":""}'))).toBe(false);
    expect(carriesContent(event('content_block_delta', '"index":0,"delta":{"type":"thinking_delta","thinking":"Let me"}'))).toBe(true);
    expect(carriesContent(event('content_block_start', '"index":0,"content_block":{"type":"text","text":""}'))).toBe(false);
    expect(carriesContent(event('message_start', '"message":{"id":"msg_1","type":"message","role":"assistant","content":[],"usage":{"input_tokens":3}}'))).toBe(false);
    expect(carriesContent(event('ping', '"x":1'))).toBe(false);
  });
});

describe('gaps between tokens', () => {
  it('only chunks with content are tokens: usage, [DONE] and comments are not gaps', () => {
    const { t, gaps } = timing(sse);
    t.chunk(Buffer.from('data: {"delta":{"content":"a"}}\n\n'), 100);
    t.chunk(Buffer.from(': keep-alive\n\n'), 130);
    t.chunk(Buffer.from('data: {"delta":{"content":"b"}}\n\n'), 150);
    t.chunk(Buffer.from('data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}\n\n'), 160);
    t.chunk(Buffer.from('data: [DONE]\n\n'), 170);
    expect(gaps.map((g) => Math.round(g * 1000))).toEqual([50]);
  });

  it('a token split between chunks is one token, timed when its text arrives; the next key may start in the same chunk', () => {
    const { t, gaps } = timing(sse);
    t.chunk(Buffer.from('data: {"delta":{"content":"a"}}\n\ndata: {"delta":{"cont'), 100);
    t.chunk(Buffer.from('ent":"b"}}\n\n'), 140);
    t.chunk(Buffer.from('data: {"delta":{"content":"c"}}\n\n'), 200);
    expect(t.firstTokenAt).toBe(100);
    expect(gaps.map((g) => Math.round(g * 1000))).toEqual([40, 60]);
  });

  it('time the backend spent paused for a slow client is not a gap', () => {
    const { t, gaps } = timing(sse);
    t.chunk(Buffer.from('data: {"delta":{"content":"a"}}\n\n'), 100);
    t.chunk(Buffer.from('data: {"delta":{"content":"b"}}\n\n'), 120);
    // The client stopped reading; the backend was paused, then resumed 900 ms later.
    t.resumed();
    t.chunk(Buffer.from('data: {"delta":{"content":"c"}}\n\n'), 1020);
    t.chunk(Buffer.from('data: {"delta":{"content":"d"}}\n\n'), 1045);
    expect(gaps.map((g) => Math.round(g * 1000))).toEqual([20, 25]);
  });
});
