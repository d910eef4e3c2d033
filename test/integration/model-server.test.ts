import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ROOT, startNode, stopAll, waitFor, type Proc } from '../helpers/processes.js';

// Exercises the built `sluice-model-server` binary as a real child process (`npm test` builds first).
const MAIN = 'dist/model-server/main.js';

interface Spawned {
  readonly url: string;
  readonly proc: Proc;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function spawnServer(serverId: string, env: Record<string, string> = {}): Promise<Spawned> {
  const port = await freePort();
  const proc = startNode(MAIN, [], { PORT: String(port), HOST: '127.0.0.1', SERVER_ID: serverId, LOAD_TIME: '300ms', TOKEN_DELAY: '5ms', ...env });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.child.once('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 30_000;
  while (!proc.jsonLines().some((line) => line.msg === 'model server listening')) {
    if (Date.now() > deadline || proc.child.exitCode !== null) throw new Error(`${serverId} did not start: ${proc.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { url: `http://127.0.0.1:${port}`, proc, exited };
}

async function waitHealthy(url: string): Promise<void> {
  await waitFor(async () => (await fetch(`${url}/health`)).status === 200, 10_000, 'healthy');
}

const postJson = (url: string, body: unknown, init: RequestInit = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...init });

const setFault = async (url: string, fault: Record<string, unknown>) => {
  const res = await postJson(`${url}/admin/fault`, fault);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
};

let main: Spawned;
let openai: OpenAI;
let ollama: Ollama;

beforeAll(async () => {
  if (!existsSync(join(ROOT, MAIN))) throw new Error(`${MAIN} is missing: run "npx tsc -p tsconfig.json" (npm test does) first`);
  main = await spawnServer('ms-main');
  openai = new OpenAI({ baseURL: `${main.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 5000 });
  ollama = new Ollama({ host: main.url });
});

afterAll(stopAll);

describe('startup and health', () => {
  it('logs one JSON line, answers 503 while loading and 200 once loaded', async () => {
    expect(main.proc.jsonLines()[0]).toEqual({ level: 'info', msg: 'model server listening', server_id: 'ms-main', port: Number(new URL(main.url).port), models: ['llama3.2:1b', 'qwen2.5:0.5b'] });
    // A server whose load takes a minute is certainly still loading, however busy the machine.
    const slow = await spawnServer('ms-loading', { LOAD_TIME: '1m' });
    const loading = await fetch(`${slow.url}/health`);
    expect(loading.status).toBe(503);
    expect(await loading.json()).toEqual({ status: 'loading', server_id: 'ms-loading' });
    const api = await postJson(`${slow.url}/predict`, { text: 'good' });
    expect(api.status).toBe(503);
    await slow.proc.stop();
    await waitHealthy(main.url);
    const ready = await fetch(`${main.url}/health`);
    expect(ready.headers.get('x-server-id')).toBe('ms-main');
    expect(await ready.json()).toEqual({ status: 'ok', server_id: 'ms-main' });
  });

  it('rejects invalid settings naming the variable, exit code 2', async () => {
    const proc = startNode(MAIN, [], { PORT: '0', LOAD_TIME: 'soon' });
    const code = await new Promise<number | null>((resolve) => proc.child.once('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(proc.output()).toContain('LOAD_TIME');
  });
});

describe('/predict', () => {
  it('classifies sentiment with server_id', async () => {
    const positive = await postJson(`${main.url}/predict`, { text: 'I love this, it is wonderful' });
    expect(positive.status).toBe(200);
    const body = (await positive.json()) as { server_id: string; label: string; score: number };
    expect(body).toMatchObject({ server_id: 'ms-main', label: 'positive' });
    expect(body.score).toBeGreaterThan(0.5);
    expect(body.score).toBeLessThanOrEqual(1);
    const negative = (await (await postJson(`${main.url}/predict`, { text: 'this is not good' })).json()) as { label: string };
    expect(negative.label).toBe('negative');
  });

  it('answers 400 to a missing text', async () => {
    const res = await postJson(`${main.url}/predict`, { txt: 'typo' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain('text');
  });
});

describe('OpenAI-compatible API through the official client', () => {
  const messages = [{ role: 'user' as const, content: 'Tell me about the lighthouse keeper.' }];

  it('lists models', async () => {
    const page = await openai.models.list();
    expect(page.data.map((m) => m.id)).toEqual(['llama3.2:1b', 'qwen2.5:0.5b']);
    expect(page.data[0]).toMatchObject({ object: 'model', owned_by: 'sluice-sample' });
  });

  it('chat completion: content, usage and X-Server-Id', async () => {
    const { data, response } = await openai.chat.completions.create({ model: 'llama3.2:1b', messages, max_tokens: 12 }).withResponse();
    expect(response.headers.get('x-server-id')).toBe('ms-main');
    expect(data.choices[0]!.message.role).toBe('assistant');
    expect(data.choices[0]!.message.content!.length).toBeGreaterThan(10);
    expect(data.choices[0]!.finish_reason).toBe('length');
    expect(data.usage).toEqual({ prompt_tokens: 7, completion_tokens: 12, total_tokens: 19 });
    expect((data as unknown as { server_id: string }).server_id).toBe('ms-main');
  });

  it('streams one chunk per token, spread over time, then a usage chunk', async () => {
    const started = performance.now();
    const stream = await openai.chat.completions.create({ model: 'llama3.2:1b', messages, max_tokens: 12, stream: true, stream_options: { include_usage: true } });
    const arrivals: number[] = [];
    let content = '';
    let usageChunk: OpenAI.Chat.Completions.ChatCompletionChunk | undefined;
    let finishReason: string | null = null;
    for await (const chunk of stream) {
      if (chunk.usage) usageChunk = chunk;
      const choice = chunk.choices[0];
      if (choice?.finish_reason) finishReason = choice.finish_reason;
      if (choice?.delta.content) {
        content += choice.delta.content;
        arrivals.push(performance.now() - started);
      }
    }
    expect(arrivals).toHaveLength(12);
    // 5 ms between tokens: twelve tokens cannot all arrive in one lump.
    expect(arrivals[11]! - arrivals[0]!).toBeGreaterThanOrEqual(11 * 5 * 0.8);
    expect(finishReason).toBe('length');
    expect(usageChunk!.choices).toEqual([]);
    expect(usageChunk!.usage).toEqual({ prompt_tokens: 7, completion_tokens: 12, total_tokens: 19 });
    // The generator is deterministic: streaming yields the same text as the plain response.
    const plain = await openai.chat.completions.create({ model: 'llama3.2:1b', messages, max_tokens: 12 });
    expect(content).toBe(plain.choices[0]!.message.content);
  });

  it('text completions, plain and streamed', async () => {
    const completion = await openai.completions.create({ model: 'qwen2.5:0.5b', prompt: 'The baker', max_tokens: 5 });
    expect(completion.object).toBe('text_completion');
    expect(completion.choices[0]!.text.length).toBeGreaterThan(0);
    expect(completion.usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 5 });
    let streamed = '';
    for await (const chunk of await openai.completions.create({ model: 'qwen2.5:0.5b', prompt: 'The baker', max_tokens: 5, stream: true })) streamed += chunk.choices[0]?.text ?? '';
    expect(streamed).toBe(completion.choices[0]!.text);
  });

  it('embeddings, in the default base64 and in float encoding', async () => {
    const decoded = await openai.embeddings.create({ model: 'llama3.2:1b', input: ['the river', 'the river', 'fresh bread'] });
    expect(decoded.data).toHaveLength(3);
    const [a, b, c] = decoded.data.map((d) => Array.from(d.embedding));
    expect(a).toHaveLength(64);
    expect(Math.hypot(...a!)).toBeCloseTo(1, 5);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    const floats = await openai.embeddings.create({ model: 'llama3.2:1b', input: 'the river', encoding_format: 'float' });
    floats.data[0]!.embedding.forEach((value, i) => expect(value).toBeCloseTo(a![i]!, 6));
    expect(floats.usage).toEqual({ prompt_tokens: 2, total_tokens: 2 });
  });

  it('unknown model: 404 model_not_found', async () => {
    const error = await openai.chat.completions.create({ model: 'gpt-9', messages }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    const notFound = error as InstanceType<typeof OpenAI.NotFoundError>;
    expect(notFound.error).toEqual({ message: "The model 'gpt-9' does not exist", type: 'invalid_request_error', param: 'model', code: 'model_not_found' });
  });

  it('malformed JSON: 400 in OpenAI shape', async () => {
    const res = await fetch(`${main.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": ' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
  });
});

describe('Responses API through the official client, stored in the server', () => {
  it('creates a response, continues it with previous_response_id (streamed), retrieves and deletes it', async () => {
    const first = await openai.responses.create({ model: 'llama3.2:1b', instructions: 'Be brief.', input: 'Tell me about the lighthouse keeper.', max_output_tokens: 6 });
    expect(first).toMatchObject({ object: 'response', status: 'completed', model: 'llama3.2:1b', previous_response_id: null, usage: { output_tokens: 6 } });
    expect(first.id).toMatch(/^resp_/);
    expect(first.output_text.length).toBeGreaterThan(5);
    const events: string[] = [];
    let second: OpenAI.Responses.Response | undefined;
    for await (const event of await openai.responses.create({ model: 'llama3.2:1b', input: [{ role: 'user', content: 'And then?' }], previous_response_id: first.id, max_output_tokens: 4, stream: true })) {
      events.push(event.type);
      if (event.type === 'response.completed') second = event.response;
    }
    expect(events).toEqual(['response.created', ...Array(4).fill('response.output_text.delta'), 'response.completed']);
    // The conversation so far is the new turn's prompt: more input tokens than the first turn's prompt and answer.
    expect(second!.usage!.input_tokens).toBeGreaterThan(first.usage!.input_tokens + first.usage!.output_tokens);
    expect(second!.previous_response_id).toBe(first.id);
    // The stored response as the stream completed it (the SDK adds output_text to what it retrieves).
    expect(await openai.responses.retrieve(second!.id)).toMatchObject({ id: second!.id, status: 'completed', output: second!.output, usage: second!.usage });
    expect(await openai.responses.delete(second!.id)).toMatchObject({ id: second!.id, deleted: true });
    await expect(openai.responses.retrieve(second!.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('a follow-up naming a response this server does not store: 404, as LM Studio and vLLM answer it', async () => {
    const error = await openai.responses.create({ model: 'llama3.2:1b', input: 'And then?', previous_response_id: 'resp_elsewhere' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).error).toMatchObject({ param: 'previous_response_id', code: 'response_not_found' });
    const notStored = await openai.responses.create({ model: 'llama3.2:1b', input: 'Once.', store: false, max_output_tokens: 2 });
    await expect(openai.responses.retrieve(notStored.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    // An id that is no percent-encoding: not one of this server's, a 404 (not a 500).
    expect((await fetch(`${main.url}/v1/responses/%ZZ`)).status).toBe(404);
    const wrongMethod = await fetch(`${main.url}/v1/responses/${notStored.id}`, { method: 'PUT' });
    expect([wrongMethod.status, wrongMethod.headers.get('allow')]).toEqual([405, 'GET, DELETE']);
  });
});

describe('Ollama-compatible API through the official client', () => {
  it('root, tags and ps', async () => {
    const root = await fetch(`${main.url}/`);
    expect(root.headers.get('content-type')).toContain('text/plain');
    expect(await root.text()).toBe('Ollama is running');
    const tags = await ollama.list();
    expect(tags.models.map((m) => m.name)).toEqual(['llama3.2:1b', 'qwen2.5:0.5b']);
    expect(tags.models[0]!.details.family).toBe('llama');
    expect(tags.models[0]!.digest).toMatch(/^[0-9a-f]{64}$/);
    expect((await ollama.ps()).models).toHaveLength(2);
  });

  it('chat without streaming', async () => {
    const reply = await ollama.chat({ model: 'llama3.2:1b', messages: [{ role: 'user', content: 'hello there' }], options: { num_predict: 6 } });
    expect(reply.message.role).toBe('assistant');
    expect(reply.message.content.length).toBeGreaterThan(0);
    expect(reply).toMatchObject({ done: true, done_reason: 'length', prompt_eval_count: 2, eval_count: 6 });
    expect(reply.total_duration).toBeGreaterThan(0);
  });

  it('chat streaming: one line per token, then done', async () => {
    const parts = [];
    for await (const part of await ollama.chat({ model: 'llama3.2:1b', messages: [{ role: 'user', content: 'hello there' }], options: { num_predict: 6 }, stream: true })) parts.push(part);
    expect(parts).toHaveLength(7);
    expect(parts.slice(0, 6).every((p) => !p.done && p.message.content.length > 0)).toBe(true);
    expect(parts[6]).toMatchObject({ done: true, eval_count: 6 });
    const plain = await ollama.chat({ model: 'llama3.2:1b', messages: [{ role: 'user', content: 'hello there' }], options: { num_predict: 6 } });
    expect(parts.map((p) => p.message.content).join('')).toBe(plain.message.content);
  });

  it('generate streaming reports eval_count', async () => {
    const parts = [];
    for await (const part of await ollama.generate({ model: 'qwen2.5:0.5b', prompt: 'Why is the sky blue?', options: { num_predict: 9 }, stream: true })) parts.push(part);
    const last = parts[parts.length - 1]!;
    expect(last).toMatchObject({ done: true, done_reason: 'length', eval_count: 9, prompt_eval_count: 6 });
    expect(parts.filter((p) => (p.response ?? "").length > 0)).toHaveLength(9);
    expect(last.eval_duration).toBeGreaterThanOrEqual(9 * 5 * 0.8 * 1e6);
  });

  it('streams by default when the request does not say', async () => {
    const res = await postJson(`${main.url}/api/generate`, { model: 'qwen2.5:0.5b', prompt: 'hi', options: { num_predict: 3 } });
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = (await res.text()).trim().split('\n').map((line) => JSON.parse(line) as { done: boolean });
    expect(lines.map((l) => l.done)).toEqual([false, false, false, true]);
  });

  it('embed', async () => {
    const result = await ollama.embed({ model: 'llama3.2:1b', input: ['one', 'two'] });
    expect(result.embeddings).toHaveLength(2);
    expect(result.embeddings[0]).toHaveLength(64);
  });

  it('unknown model: 404 in Ollama shape', async () => {
    const error = (await ollama.chat({ model: 'mistral:7b', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as { status_code: number; error: string };
    expect(error.status_code).toBe(404);
    expect(error.error).toBe("model 'mistral:7b' not found");
  });

  it('malformed JSON: 400 in Ollama shape', async () => {
    const res = await fetch(`${main.url}/api/chat`, { method: 'POST', body: 'not json' });
    expect(res.status).toBe(400);
    expect(typeof ((await res.json()) as { error: unknown }).error).toBe('string');
  });
});

describe('faults', () => {
  let faulty: Spawned;
  beforeAll(async () => {
    faulty = await spawnServer('ms-faulty');
    await waitHealthy(faulty.url);
  });

  it('error: every API and /health request gets the status; /admin is unaffected', async () => {
    expect(await setFault(faulty.url, { mode: 'error' })).toMatchObject({ mode: 'error', status: 503, server_id: 'ms-faulty' });
    expect((await fetch(`${faulty.url}/health`)).status).toBe(503);
    const chat = await postJson(`${faulty.url}/v1/chat/completions`, { model: 'llama3.2:1b', messages: [{ role: 'user', content: 'x' }] });
    expect(chat.status).toBe(503);
    expect(((await chat.json()) as { error: { code: string } }).error.code).toBe('injected_fault');
    expect((await fetch(`${faulty.url}/api/tags`)).status).toBe(503);
    expect(await (await fetch(`${faulty.url}/admin/fault`)).json()).toMatchObject({ mode: 'error' });
    await setFault(faulty.url, { mode: 'error', status: 500 });
    expect((await postJson(`${faulty.url}/predict`, { text: 'x' })).status).toBe(500);
    await setFault(faulty.url, { mode: 'none' });
    expect((await fetch(`${faulty.url}/health`)).status).toBe(200);
  });

  it('hang: requests never get an answer, /admin still does', async () => {
    await setFault(faulty.url, { mode: 'hang' });
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 300);
    const started = performance.now();
    const outcome = await fetch(`${faulty.url}/health`, { signal: abort.signal }).then(() => 'answered', (e: Error) => e.name);
    clearTimeout(timer);
    expect(outcome).toBe('AbortError');
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(await (await fetch(`${faulty.url}/admin/fault`)).json()).toMatchObject({ mode: 'hang' });
    await setFault(faulty.url, { mode: 'none' });
    expect((await fetch(`${faulty.url}/health`)).status).toBe(200);
  });

  it('flap: alternates healthy and failing every period', async () => {
    await setFault(faulty.url, { mode: 'flap', period_ms: 300 });
    const samples: number[] = [];
    const started = performance.now();
    const changes = () => samples.filter((status, i) => i > 0 && status !== samples[i - 1]).length;
    // Sample until four runs were seen (about 1 s); the deadline only bounds a loaded machine.
    while (changes() < 4 && performance.now() - started < 20_000) {
      samples.push((await fetch(`${faulty.url}/health`)).status);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await setFault(faulty.url, { mode: 'none' });
    expect(samples[0]).toBe(200);
    // Collapse runs: healthy, failing, healthy, failing, healthy (about 300 ms each).
    const runs = samples.filter((status, i) => i === 0 || status !== samples[i - 1]);
    expect(runs.slice(0, 4)).toEqual([200, 503, 200, 503]);
    expect(new Set(samples)).toEqual(new Set([200, 503]));
  });

  it('crash: confirms, then the process exits with status 1', async () => {
    expect(await setFault(faulty.url, { mode: 'crash' })).toMatchObject({ mode: 'crash' });
    expect(await faulty.exited).toEqual({ code: 1, signal: null });
  });

  it('crash from the environment: the first request brings the process down', async () => {
    const doomed = await spawnServer('ms-doomed', { FAULT: 'crash' });
    await expect(fetch(`${doomed.url}/health`)).rejects.toThrow();
    expect(await doomed.exited).toEqual({ code: 1, signal: null });
  });
});

describe('shutdown', () => {
  it('SIGTERM exits 0 promptly, even with a hung request open', async () => {
    const server = await spawnServer('ms-term', { LOAD_TIME: '1m' });
    await setFault(server.url, { mode: 'hang' });
    const hung = fetch(`${server.url}/health`).then(() => 'answered', () => 'dropped');
    await new Promise((resolve) => setTimeout(resolve, 100));
    server.proc.child.kill('SIGTERM');
    // It exits rather than waiting for the hung request, which would never end.
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(await hung).toBe('dropped');
  }, 30_000);
});
