import { describe, expect, it } from 'vitest';
import { endedWithError, endsWithMarker, expectedEndMarker, LastEventHead } from '../../../src/proxy/end-marker.js';

const SSE = { 'content-type': 'text/event-stream; charset=utf-8' };
const NDJSON = { 'content-type': 'application/x-ndjson' };

describe('expectedEndMarker', () => {
  it('knows the OpenAI completions streams and the Ollama generation streams', () => {
    expect(expectedEndMarker('/v1/chat/completions', SSE)).toBe('openai');
    expect(expectedEndMarker('/v1/completions?x=1', SSE)).toBe('openai');
    expect(expectedEndMarker('/api/chat', NDJSON)).toBe('ollama');
    expect(expectedEndMarker('/api/generate', NDJSON)).toBe('ollama');
  });

  it('knows the Responses API stream', () => {
    expect(expectedEndMarker('/v1/responses', SSE)).toBe('responses');
    expect(expectedEndMarker('/v1/responses?stream=true', SSE)).toBe('responses');
    // A stored response streamed again ends with the same closing event.
    expect(expectedEndMarker('/v1/responses/resp_1?stream=true', SSE)).toBe('responses');
    expect(expectedEndMarker('/v1/responses/resp_1?stream=true&starting_after=3', SSE)).toBe('responses');
    // Retrieving a stored response's input items, or a response that is not streamed: no marker.
    expect(expectedEndMarker('/v1/responses/resp_1/input_items', SSE)).toBeUndefined();
    expect(expectedEndMarker('/v1/responses/', SSE)).toBeUndefined();
    expect(expectedEndMarker('/v1/responses', { 'content-type': 'application/json' })).toBeUndefined();
  });

  it('knows the Anthropic Messages API stream, not the paths under it', () => {
    expect(expectedEndMarker('/v1/messages', SSE)).toBe('anthropic');
    expect(expectedEndMarker('/v1/messages?beta=true', SSE)).toBe('anthropic');
    expect(expectedEndMarker('/v1/messages/count_tokens', SSE)).toBeUndefined();
    expect(expectedEndMarker('/v1/messagesx', SSE)).toBeUndefined();
    expect(expectedEndMarker('/v1/messages', { 'content-type': 'application/json' })).toBeUndefined();
  });

  it('expects nothing of other paths, other types, or a compressed body', () => {
    expect(expectedEndMarker('/v1/responsesx', SSE)).toBeUndefined();
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
    // Ollama's own end of a failed generation: whole, and a failure (see endedWithError).
    expect(endsWithMarker(Buffer.from('{"error":"model crashed"}\n'), 'ollama')).toBe(true);
    expect(endsWithMarker(Buffer.from('\n\n'), 'ollama')).toBe(false);
  });
});

/** A Responses API stream as its events come, and the tail and last event's head Sluice would read of it, cut into chunks of `size`. */
function responsesStream(events: string[], size: number): { tail: Buffer; head: Buffer } {
  const whole = Buffer.from(events.join(''));
  const watcher = new LastEventHead();
  for (let at = 0; at < whole.length; at += size) watcher.push(whole.subarray(at, at + size));
  return { tail: whole.subarray(Math.max(0, whole.length - 8192)), head: watcher.bytes() };
}

const event = (type: string, data: string) => `event: ${type}\ndata: ${data}\n\n`;
const DELTA = event('response.output_text.delta', '{"type":"response.output_text.delta","delta":"hi","sequence_number":3}');
/** A closing event far longer than the tail Sluice keeps: it carries the whole answer. */
const COMPLETED = event('response.completed', `{"type":"response.completed","response":{"output":[{"type":"message","content":[{"type":"output_text","text":"${'x'.repeat(20_000)}"}]}],"usage":{"input_tokens":5,"output_tokens":9}},"sequence_number":9}`);

describe('endsWithMarker, responses', () => {
  it('whole when the last event is a closing one, however long, in chunks of any size', () => {
    for (const size of [1, 7, 64, 1000, 100_000]) {
      const { tail, head } = responsesStream([DELTA, DELTA, COMPLETED], size);
      expect(endsWithMarker(tail, 'responses', head), `chunks of ${size}`).toBe(true);
    }
    for (const closing of ['response.incomplete', 'response.failed', 'error']) {
      const { tail, head } = responsesStream([DELTA, event(closing, `{"type":"${closing}"}`)], 16);
      expect(endsWithMarker(tail, 'responses', head), closing).toBe(true);
    }
    // CRLF line ends.
    const crlf = responsesStream([DELTA, 'event: response.completed\r\ndata: {"type":"response.completed"}\r\n\r\n'], 5);
    expect(endsWithMarker(crlf.tail, 'responses', crlf.head)).toBe(true);
  });

  it('cut when the stream ends on any other event, or inside the closing one', () => {
    for (const size of [1, 13, 4096]) {
      const { tail, head } = responsesStream([DELTA, DELTA], size);
      expect(endsWithMarker(tail, 'responses', head), `chunks of ${size}`).toBe(false);
      // The data of a delta may name a closing event: only its own name counts.
      const quoting = responsesStream([DELTA, event('response.output_text.delta', '{"type":"response.output_text.delta","delta":"event: response.completed"}')], size);
      expect(endsWithMarker(quoting.tail, 'responses', quoting.head)).toBe(false);
    }
    // Ended cleanly within the closing event (a proxy in between that closed its side cleanly):
    // an event not ended by a blank line never reaches the client's code.
    for (const partial of ['event: response.completed\n', 'event: response.completed\ndata: {"type":"response.completed","response":{"out', 'event: response.completed\ndata: {"type":"response.completed"}\n']) {
      const cut = responsesStream([DELTA, partial], 4);
      expect(endsWithMarker(cut.tail, 'responses', cut.head), partial).toBe(false);
    }
    expect(endsWithMarker(Buffer.alloc(0), 'responses', Buffer.alloc(0))).toBe(false);
  });

  it('skips blocks of comments alone, after the closing event or between others', () => {
    for (const size of [1, 9, 100_000]) {
      const pinged = responsesStream([DELTA, COMPLETED, ': keep-alive\n\n', ': keep-alive\n\n'], size);
      expect(endsWithMarker(pinged.tail, 'responses', pinged.head), `chunks of ${size}`).toBe(true);
      const cut = responsesStream([DELTA, ': keep-alive\n\n', DELTA, ': keep-alive\n\n'], size);
      expect(endsWithMarker(cut.tail, 'responses', cut.head), `chunks of ${size}`).toBe(false);
    }
  });

  it('reads the type from the data when the events carry no event: line, first field or last', () => {
    const first = responsesStream(['data: {"type":"response.output_text.delta"}\n\n', `data: {"type":"response.completed","response":{"text":"${'y'.repeat(10_000)}"}}\n\n`], 100);
    expect(endsWithMarker(first.tail, 'responses', first.head)).toBe(true);
    const last = responsesStream(['data: {"delta":"a","type":"response.output_text.delta"}\n\n', `data: {"response":{"text":"${'y'.repeat(10_000)}"},"sequence_number":4,"type":"response.completed"}\n\n`], 100);
    expect(endsWithMarker(last.tail, 'responses', last.head)).toBe(true);
    const cut = responsesStream(['data: {"delta":"a","type":"response.output_text.delta"}\n\n'], 100);
    expect(endsWithMarker(cut.tail, 'responses', cut.head)).toBe(false);
  });
});

/** An Anthropic Messages stream as the client would get it: the event types named, then their data. */
const anthropicEvent = (type: string, data: string) => `event: ${type}\ndata: {"type":"${type}"${data}}\n\n`;
const MESSAGE_START = anthropicEvent('message_start', ',"message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"m:1","usage":{"input_tokens":5,"output_tokens":1}}');
const TEXT_DELTA = anthropicEvent('content_block_delta', ',"index":0,"delta":{"type":"text_delta","text":"hi"}');
const MESSAGE_DELTA = anthropicEvent('message_delta', ',"delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}');

describe('endsWithMarker, anthropic', () => {
  it('whole when the last event is message_stop (or an error), in chunks of any size', () => {
    for (const size of [1, 7, 64, 100_000]) {
      const { tail, head } = responsesStream([MESSAGE_START, TEXT_DELTA, MESSAGE_DELTA, anthropicEvent('message_stop', '')], size);
      expect(endsWithMarker(tail, 'anthropic', head), `chunks of ${size}`).toBe(true);
    }
    const failed = responsesStream([MESSAGE_START, TEXT_DELTA, anthropicEvent('error', ',"error":{"type":"overloaded_error","message":"Overloaded"}')], 16);
    expect(endsWithMarker(failed.tail, 'anthropic', failed.head)).toBe(true);
    const dataOnly = responsesStream(['data: {"type":"content_block_delta"}\n\n', 'data: {"type":"message_stop"}\n\n'], 3);
    expect(endsWithMarker(dataOnly.tail, 'anthropic', dataOnly.head)).toBe(true);
  });

  it('cut when the stream ends on another event, or inside message_stop; the Responses API\'s closing events do not close it', () => {
    for (const size of [1, 13, 4096]) {
      const { tail, head } = responsesStream([MESSAGE_START, TEXT_DELTA, MESSAGE_DELTA], size);
      expect(endsWithMarker(tail, 'anthropic', head), `chunks of ${size}`).toBe(false);
    }
    const partial = responsesStream([MESSAGE_START, TEXT_DELTA, 'event: message_stop\ndata: {"type":"message_stop"}\n'], 4);
    expect(endsWithMarker(partial.tail, 'anthropic', partial.head)).toBe(false);
    const other = responsesStream([TEXT_DELTA, anthropicEvent('response.completed', '')], 8);
    expect(endsWithMarker(other.tail, 'anthropic', other.head)).toBe(false);
  });
});

describe('endedWithError', () => {
  it('openai: an error object as the last chunk before [DONE], as vLLM sends a failure mid-stream', () => {
    const chunk = 'data: {"id":"c","choices":[{"delta":{"content":"a"}}]}\n\n';
    expect(endedWithError(Buffer.from(`${chunk}data: {"error": {"message": "engine died", "type": "InternalServerError", "code": 500}}\n\ndata: [DONE]\n\n`), 'openai')).toBe(true);
    expect(endedWithError(Buffer.from(`${chunk}data: {"object":"error","message":"boom","type":"BadRequestError","code":400}\r\n\r\ndata: [DONE]\r\n\r\n`), 'openai')).toBe(true);
    expect(endedWithError(Buffer.from('data: {"error":{"message":"x"}}\n\ndata: [DONE]\n\n'), 'openai')).toBe(true);
    // A whole answer, one whose text mentions an error, or an error earlier in the stream: no.
    expect(endedWithError(Buffer.from(`${chunk}${chunk}data: [DONE]\n\n`), 'openai')).toBe(false);
    expect(endedWithError(Buffer.from(`${chunk}data: {"choices":[{"delta":{"content":"data: {\\"error\\": 1}"}}]}\n\ndata: [DONE]\n\n`), 'openai')).toBe(false);
    expect(endedWithError(Buffer.from(`data: {"error":{"message":"x"}}\n\n${chunk}data: [DONE]\n\n`), 'openai')).toBe(false);
    expect(endedWithError(Buffer.from('{"done":true}\n'), 'ollama')).toBe(false);
  });

  it('ollama: a last line that is an error object ends the stream whole, with an error', () => {
    const failed = Buffer.from('{"model":"m","message":{"role":"assistant","content":"a"},"done":false}\n{"error":"an error was encountered while running the model"}\n');
    expect(endsWithMarker(failed, 'ollama')).toBe(true);
    expect(endedWithError(failed, 'ollama')).toBe(true);
    const done = Buffer.from('{"model":"m","message":{"role":"assistant","content":"error"},"done":false}\n{"model":"m","done":true}\n');
    expect(endedWithError(done, 'ollama')).toBe(false);
    // An error line earlier, then more: the last line decides.
    expect(endsWithMarker(Buffer.from('{"error":"x"}\n{"model":"m","message":{"content":"a"},"done":false}\n'), 'ollama')).toBe(false);
  });

  it('responses and anthropic: the closing event is a failure', () => {
    for (const closing of ['response.failed', 'error']) {
      const { tail, head } = responsesStream([DELTA, event(closing, `{"type":"${closing}","response":{"error":{"code":"server_error"}}}`)], 16);
      expect(endedWithError(tail, 'responses', head), closing).toBe(true);
    }
    const completed = responsesStream([DELTA, COMPLETED], 64);
    expect(endedWithError(completed.tail, 'responses', completed.head)).toBe(false);
    const incomplete = responsesStream([DELTA, event('response.incomplete', '{"type":"response.incomplete"}')], 64);
    expect(endedWithError(incomplete.tail, 'responses', incomplete.head)).toBe(false);
    const overloaded = responsesStream([MESSAGE_START, TEXT_DELTA, anthropicEvent('error', ',"error":{"type":"overloaded_error","message":"Overloaded"}')], 16);
    expect(endedWithError(overloaded.tail, 'anthropic', overloaded.head)).toBe(true);
    const dataOnly = responsesStream([TEXT_DELTA, 'data: {"type":"error","error":{"type":"api_error","message":"x"}}\n\n'], 7);
    expect(endedWithError(dataOnly.tail, 'anthropic', dataOnly.head)).toBe(true);
    const stopped = responsesStream([MESSAGE_START, TEXT_DELTA, MESSAGE_DELTA, anthropicEvent('message_stop', '')], 16);
    expect(endedWithError(stopped.tail, 'anthropic', stopped.head)).toBe(false);
  });
});
