import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { startModelServer, startSluice, stopAll, testConfig, waitFor, type ModelServer, type SluiceProc } from '../helpers/processes.js';

let servers: ModelServer[];
let sluice: SluiceProc;

beforeAll(async () => {
  servers = await Promise.all([
    startModelServer('server-1', ['llama3.2:1b', 'qwen2.5:0.5b']),
    startModelServer('server-2', ['llama3.2:1b', 'phi3:mini']),
    startModelServer('server-3', ['qwen2.5:0.5b', 'phi3:mini']),
  ]);
  sluice = await startSluice((port) =>
    testConfig(port, [
      { id: 'server-1', url: servers[0]!.url, weight: 3 },
      { id: 'server-2', url: servers[1]!.url },
      { id: 'server-3', url: servers[2]!.url },
    ], 'limits:\n  max_body: 64KiB'),
  );
  // Every endpoint routable and its models discovered.
  await waitForModels(['llama3.2:1b', 'qwen2.5:0.5b', 'phi3:mini']);
});

afterAll(stopAll);

async function waitForModels(models: string[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const body = (await (await fetch(`${sluice.url}/internal/status/endpoints`)).json()) as { endpoints: Array<{ status: string; models: string[] }> };
    const ready = body.endpoints.every((e) => e.status === 'healthy') && models.every((m) => body.endpoints.some((e) => e.models.includes(m)));
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`endpoints not ready: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function chat(model: string, content = 'hello there', headers: Record<string, string> = {}) {
  return fetch(`${sluice.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
  });
}

describe('balancing across real sample servers', () => {
  it('weighted round-robin: weight 3 gets three of every five requests, interleaved', async () => {
    // llama3.2:1b is served by server-1 (weight 3) and server-2 (weight 1).
    const seen: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await chat('llama3.2:1b');
      expect(res.status).toBe(200);
      const body = (await res.json()) as { server_id: string };
      expect(res.headers.get('x-sluice-endpoint')).toBe(body.server_id);
      seen.push(body.server_id);
    }
    expect(seen.filter((s) => s === 'server-1')).toHaveLength(15);
    expect(seen.filter((s) => s === 'server-2')).toHaveLength(5);
    // Smooth: never more than three server-1 picks in a row.
    expect(seen.join(',')).not.toContain('server-1,server-1,server-1,server-1');
  });

  it('routes each model only to servers that serve it', async () => {
    for (const [model, allowed] of [
      ['llama3.2:1b', ['server-1', 'server-2']],
      ['qwen2.5:0.5b', ['server-1', 'server-3']],
      ['phi3:mini', ['server-2', 'server-3']],
    ] as const) {
      const seen = new Set<string>();
      for (let i = 0; i < 10; i++) seen.add((await chat(model)).headers.get('x-sluice-endpoint')!);
      expect([...seen].sort()).toEqual([...allowed]);
    }
  });

  it('requests without a model are balanced over every endpoint', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${sluice.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'a great day' }) });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { server_id: string; label: string };
      expect(body.label).toBe('positive');
      seen.add(body.server_id);
    }
    expect(seen.size).toBe(3);
  });

  it('sets the Sluice and forwarding headers', async () => {
    const res = await chat('phi3:mini', 'hi', { 'x-request-id': 'abc-123<script>' });
    expect(res.headers.get('x-sluice-request-id')).toBe('abc-123script');
    expect(res.headers.get('x-sluice-attempts')).toBe('1');
    expect(res.headers.get('x-server-id')).toBe(res.headers.get('x-sluice-endpoint'));
  });
});

describe('official clients through Sluice', () => {
  it('openai: chat, streaming with usage, completions, embeddings, models', async () => {
    const client = new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'unused' });
    const completion = await client.chat.completions.create({ model: 'qwen2.5:0.5b', messages: [{ role: 'user', content: 'tell me a story' }], max_tokens: 8 });
    expect(completion.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(completion.usage!.completion_tokens).toBeGreaterThan(0);

    const stream = await client.chat.completions.create({ model: 'llama3.2:1b', messages: [{ role: 'user', content: 'stream please' }], max_tokens: 6, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(usage!.completion_tokens).toBe(6);

    const legacy = await client.completions.create({ model: 'phi3:mini', prompt: 'once upon', max_tokens: 4 });
    expect(legacy.choices[0]!.text.length).toBeGreaterThan(0);
    const emb = await client.embeddings.create({ model: 'phi3:mini', input: 'vector me' });
    expect(emb.data[0]!.embedding.length).toBeGreaterThan(0);

    const models = await client.models.list();
    expect(models.data.map((m) => m.id).sort()).toEqual(['llama3.2:1b', 'phi3:mini', 'qwen2.5:0.5b']);
  });

  it('ollama: list, chat streaming and not, generate streaming', async () => {
    const ollama = new Ollama({ host: sluice.url });
    const tags = await ollama.list();
    expect(tags.models.map((m) => m.name).sort()).toEqual(['llama3.2:1b', 'phi3:mini', 'qwen2.5:0.5b']);
    const reply = await ollama.chat({ model: 'phi3:mini', messages: [{ role: 'user', content: 'hi' }], stream: false });
    expect(reply.message.content.length).toBeGreaterThan(0);
    let chunks = 0;
    let last: { done: boolean; eval_count?: number } | undefined;
    for await (const part of await ollama.generate({ model: 'llama3.2:1b', prompt: 'the sea', stream: true, options: { num_predict: 5 } })) {
      chunks++;
      last = part;
    }
    expect(chunks).toBeGreaterThan(2);
    expect(last!.done).toBe(true);
    expect(last!.eval_count).toBe(5);
  });
});

describe('bad input gets a clear JSON error', () => {
  it('unknown model: 404 in the OpenAI shape on /v1 and the Ollama shape on /api', async () => {
    const res = await chat('no-such-model');
    expect(res.status).toBe(404);
    const text = await res.text();
    const body = JSON.parse(text) as { error: { code: string; type: string } };
    expect(body.error.code).toBe('model_not_found');
    expect(body.error.type).toBe('invalid_request_error');
    // Logged with the bytes of the error body Sluice sent, as nginx logs its own error pages.
    const id = res.headers.get('x-sluice-request-id');
    const logged = () => sluice.proc.jsonLines().find((l) => l.message === 'request' && l.request_id === id);
    await waitFor(() => logged() !== undefined, 5000, 'the access log line');
    expect(logged()).toMatchObject({ status: 404, error: 'model_not_found', bytes: Buffer.byteLength(text) });

    const ollamaRes = await fetch(`${sluice.url}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'nope', messages: [] }) });
    expect(ollamaRes.status).toBe(404);
    expect(await ollamaRes.json()).toEqual({ error: "model 'nope' not found" });

    const client = new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    await expect(client.chat.completions.create({ model: 'missing', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
  });

  it('malformed JSON: 400', async () => {
    const res = await fetch(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": "llama3.2:1b", ' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_json');
  });

  it('oversized body: 413 with a JSON error', async () => {
    const big = JSON.stringify({ model: 'llama3.2:1b', messages: [{ role: 'user', content: 'x'.repeat(70 * 1024) }] });
    const res = await fetch(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('body_too_large');
  });
});
