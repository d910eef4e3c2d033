import { describe, expect, it } from 'vitest';
import { endsWithMarker, expectedEndMarker } from '../../../src/proxy/end-marker.js';

const SSE = { 'content-type': 'text/event-stream; charset=utf-8' };
const NDJSON = { 'content-type': 'application/x-ndjson' };

describe('expectedEndMarker', () => {
  it('knows the OpenAI completions streams and the Ollama generation streams', () => {
    expect(expectedEndMarker('/v1/chat/completions', SSE)).toBe('openai');
    expect(expectedEndMarker('/v1/completions?x=1', SSE)).toBe('openai');
    expect(expectedEndMarker('/api/chat', NDJSON)).toBe('ollama');
    expect(expectedEndMarker('/api/generate', NDJSON)).toBe('ollama');
  });

  it('expects nothing of other paths, other types, or a compressed body', () => {
    expect(expectedEndMarker('/v1/responses', SSE)).toBeUndefined();
    expect(expectedEndMarker('/v1/chat/completionsx', SSE)).toBeUndefined();
    expect(expectedEndMarker('/v1/chat/completions', { 'content-type': 'application/json' })).toBeUndefined();
    expect(expectedEndMarker('/api/chat', SSE)).toBeUndefined();
    expect(expectedEndMarker('/v1/chat/completions', { ...SSE, 'content-encoding': 'gzip' })).toBeUndefined();
    expect(expectedEndMarker('/v1/chat/completions', { ...SSE, 'content-encoding': 'identity' })).toBe('openai');
  });
});

describe('endsWithMarker', () => {
  it('openai: the stream ends with data: [DONE], whatever blank lines follow', () => {
    expect(endsWithMarker(Buffer.from('data: {"x":1}\n\ndata: [DONE]\n\n'), 'openai')).toBe(true);
    expect(endsWithMarker(Buffer.from('data:[DONE]\r\n\r\n'), 'openai')).toBe(true);
    expect(endsWithMarker(Buffer.from('data: {"x":1}\n\n'), 'openai')).toBe(false);
    expect(endsWithMarker(Buffer.from('data: [DONE]\n\ndata: {"x":1}\n\n'), 'openai')).toBe(false);
    expect(endsWithMarker(Buffer.alloc(0), 'openai')).toBe(false);
  });

  it('ollama: the last line carries "done": true', () => {
    expect(endsWithMarker(Buffer.from('{"response":"a","done":false}\n{"response":"","done":true,"eval_count":2}\n'), 'ollama')).toBe(true);
    expect(endsWithMarker(Buffer.from('{"done": true}'), 'ollama')).toBe(true);
    expect(endsWithMarker(Buffer.from('{"response":"a","done":false}\n'), 'ollama')).toBe(false);
    expect(endsWithMarker(Buffer.from('{"done":true}\n{"response":"a","done":false}\n'), 'ollama')).toBe(false);
    expect(endsWithMarker(Buffer.from('{"error":"model crashed"}\n'), 'ollama')).toBe(false);
    expect(endsWithMarker(Buffer.from('\n\n'), 'ollama')).toBe(false);
  });
});
