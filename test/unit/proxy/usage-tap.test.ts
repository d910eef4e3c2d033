import { describe, expect, it } from 'vitest';
import { UsageTap } from '../../../src/proxy/usage-tap.js';

function tapOf(...chunks: string[]) {
  const tap = new UsageTap();
  for (const c of chunks) tap.push(Buffer.from(c));
  return tap.result();
}

describe('UsageTap', () => {
  it('reads OpenAI usage from a JSON body', () => {
    const body = JSON.stringify({ id: 'x', model: 'llama3.2:1b', choices: [{ message: { content: 'hi' } }], usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } });
    expect(tapOf(body.slice(0, 20), body.slice(20))).toEqual({ inputTokens: 7, outputTokens: 3, responseModel: 'llama3.2:1b' });
  });

  it('reads usage from the final chunk of an SSE stream, split across reads', () => {
    const chunks = ['data: {"model":"m1","choices":[{"delta":{"content":"a"}}]}\n\n', 'data: {"model":"m1","choices":[],"usage":{"prompt_tokens":4,', '"completion_tokens":9}}\n\n', 'data: [DONE]\n\n'];
    expect(tapOf(...chunks)).toEqual({ inputTokens: 4, outputTokens: 9, responseModel: 'm1' });
  });

  it('reads the Responses API usage, from a body and from its final streamed event', () => {
    const body = JSON.stringify({ id: 'resp_1', object: 'response', model: 'gpt-x', output: [{ type: 'message', content: [{ type: 'output_text', text: 'hi' }] }], usage: { input_tokens: 11, output_tokens: 2, total_tokens: 13 } });
    expect(tapOf(body)).toEqual({ inputTokens: 11, outputTokens: 2, responseModel: 'gpt-x' });
    const events = ['event: response.created\ndata: {"type":"response.created","response":{"model":"gpt-x","usage":null}}\n\n', 'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"hi"}\n\n', 'event: response.completed\ndata: {"type":"response.completed","response":{"model":"gpt-x","usage":{"input_tokens":6,"output_tokens":1,"total_tokens":7}}}\n\n'];
    expect(tapOf(...events)).toEqual({ inputTokens: 6, outputTokens: 1, responseModel: 'gpt-x' });
  });

  it('reads the Anthropic Messages API usage: input tokens from its first event, however long the stream, output tokens from its last', () => {
    const send = (type: string, data: string) => `event: ${type}\ndata: {"type":"${type}"${data}}\n\n`;
    const start = send('message_start', ',"message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"q:1","usage":{"input_tokens":25,"output_tokens":1}}');
    const delta = send('content_block_delta', ',"index":0,"delta":{"type":"text_delta","text":"token"}');
    const end = [send('content_block_stop', ',"index":0'), send('message_delta', ',"delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":120}'), send('message_stop', '')];
    // 120 deltas of about 100 bytes: the first event is long gone from the 8 KiB tail.
    expect(tapOf(start, ...Array.from({ length: 120 }, () => delta), ...end)).toEqual({ inputTokens: 25, outputTokens: 120, responseModel: 'q:1' });
    // A short one has both in its tail.
    expect(tapOf(start, delta, ...end)).toEqual({ inputTokens: 25, outputTokens: 120, responseModel: 'q:1' });
  });

  it('ignores a count no request can have: a 310-digit one reads as Infinity, which a counter refuses', () => {
    const huge = '9'.repeat(310);
    expect(tapOf(`{"model":"m1","usage":{"prompt_tokens":${huge},"completion_tokens":3}}`)).toEqual({ inputTokens: undefined, outputTokens: 3, responseModel: 'm1' });
    expect(tapOf(`{"model":"m1","usage":{"prompt_tokens":999999999999,"completion_tokens":1000000000000}}`)).toEqual({ inputTokens: 999999999999, outputTokens: undefined, responseModel: 'm1' });
  });

  it('reads Ollama eval counts from the last NDJSON line', () => {
    const lines = ['{"model":"qwen","response":"a","done":false}\n', '{"model":"qwen","response":"","done":true,"prompt_eval_count":12,"eval_count":5}\n'];
    expect(tapOf(...lines)).toEqual({ inputTokens: 12, outputTokens: 5, responseModel: 'qwen' });
  });

  it('keeps constant memory on long streams and still finds the tail', () => {
    const tap = new UsageTap();
    for (let i = 0; i < 10_000; i++) tap.push(Buffer.from(`data: {"model":"m","choices":[{"delta":{"content":"token ${i}"}}]}\n\n`));
    tap.push(Buffer.from('data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":10000}}\n\n'));
    expect(tap.result()).toMatchObject({ inputTokens: 1, outputTokens: 10000 });
  });

  it('holds none of a stream\'s chunks once it has several: what it reads from them is copied', () => {
    const tap = new UsageTap();
    const pushed = [Buffer.from('data: {"model":"m1","choices":[{"delta":{"content":"a"}}]}\n\n')];
    for (let i = 0; i < 8; i++) pushed.push(Buffer.from(`data: {"choices":[{"delta":{"content":"${i}"}}]}\n\n`));
    for (const chunk of pushed) tap.push(chunk);
    // The stream's reads are Node's buffers: the tap must not keep them alive (nor read them after they are reused).
    for (const chunk of pushed) chunk.fill(0x20);
    tap.push(Buffer.from('data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9}}\n\n'));
    expect(tap.result()).toEqual({ inputTokens: 5, outputTokens: 9, responseModel: 'm1' });
  });

  it('finds the tail after chunks of very different sizes', () => {
    const tap = new UsageTap();
    for (let i = 0; i < 1_000; i++) tap.push(Buffer.alloc(i % 2 === 0 ? 10 : 20_000, 0x20));
    tap.push(Buffer.from('{"usage":{"prompt_tokens":2,"completion_tokens":3}}'));
    expect(tap.result()).toMatchObject({ inputTokens: 2, outputTokens: 3 });
  });

  it('reads usage split across every place the tail ring wraps', () => {
    const usage = 'data: {"choices":[],"usage":{"prompt_tokens":321,"completion_tokens":654}}\n\n';
    // Shift where the ring wraps by one byte at a time, so that some run wraps inside the usage text.
    for (let shift = 0; shift < 120; shift += 7) {
      const tap = new UsageTap();
      tap.push(Buffer.from('data: {"model":"m","choices":[{"delta":{"content":"x"}}]}\n\n'));
      for (let i = 0; i < 200; i++) tap.push(Buffer.alloc(50 + (i === 0 ? shift : 0), 0x20));
      for (let at = 0; at < usage.length; at += 9) tap.push(Buffer.from(usage.slice(at, at + 9)));
      expect(tap.result()).toEqual({ inputTokens: 321, outputTokens: 654, responseModel: 'm' });
    }
  });

  it('reads only the last 8 KiB: a count that scrolled out is not reported', () => {
    const tap = new UsageTap();
    for (let i = 0; i < 4; i++) tap.push(Buffer.from(' '));
    tap.push(Buffer.from('{"usage":{"prompt_tokens":5,"completion_tokens":6}}'));
    tap.push(Buffer.alloc(9000, 0x20));
    expect(tap.result()).toMatchObject({ inputTokens: undefined, outputTokens: undefined });
  });

  it('reads what the regular expressions it replaced read, on random bodies', () => {
    // The former reading, kept here as the reference: the last match of each count, the first of the model.
    const lastOf = (re: RegExp, text: string) => [...text.matchAll(re)].map((m) => Number(m[1])).at(-1);
    const reference = (text: string) => ({
      inputTokens: lastOf(/"prompt_tokens"\s*:\s*(\d+)/g, text) ?? lastOf(/"prompt_eval_count"\s*:\s*(\d+)/g, text),
      outputTokens: lastOf(/"completion_tokens"\s*:\s*(\d+)/g, text) ?? lastOf(/"eval_count"\s*:\s*(\d+)/g, text),
      responseModel: /"model"\s*:\s*"([^"\\]{1,200})"/.exec(text)?.[1],
    });
    const names = ['"prompt_tokens"', '"completion_tokens"', '"prompt_eval_count"', '"eval_count"', '"model"', 'prompt_tokens', '"model', '"eval_count'];
    const spaces = ['', ' ', '  ', '\t', '\n', '\r\n', '\f'];
    const values = ['0', '7', '123456', '"x"', '"llama3.2:1b"', '""', '"a\\"b"', '"é模型"', `"${'m'.repeat(200)}"`, `"${'m'.repeat(201)}"`, `"${'é'.repeat(200)}"`, 'null', '-3', '"12"'];
    // mulberry32: a seeded generator whose low bits are as random as its high ones.
    let seed = 12345;
    const pick = <T,>(list: readonly T[]): T => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return list[((t ^ (t >>> 14)) >>> 0) % list.length]!;
    };
    for (let round = 0; round < 3000; round++) {
      let text = '{';
      const members = 1 + (round % 6);
      for (let i = 0; i < members; i++) text += `${pick(names)}${pick(spaces)}${pick([':', ':', '', ';'])}${pick(spaces)}${pick(values)}${pick([',', ' ,', '}'])}`;
      expect(tapOf(text), text).toEqual(reference(text));
    }
  });

  it('reports nothing when the response carries no usage', () => {
    expect(tapOf('{"server_id":"s","label":"positive"}')).toEqual({ inputTokens: undefined, outputTokens: undefined, responseModel: undefined });
  });
});
