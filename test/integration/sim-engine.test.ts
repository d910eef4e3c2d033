import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSample, parseExposition, promtoolCheckMetrics } from '../helpers/exposition.js';
import { freePort, startNode, stopAll, waitFor } from '../helpers/processes.js';

// The built sample server as a real process with ENGINE=sim: its vLLM-named metrics must move with the load.
const MODEL = 'llama3.2:1b';
const OTHER = 'qwen2.5:0.5b';

async function startSim(env: Record<string, string>): Promise<string> {
  const port = await freePort();
  startNode('dist/model-server/main.js', [], { PORT: String(port), HOST: '127.0.0.1', SERVER_ID: 'sim', LOAD_TIME: '300ms', ENGINE: 'sim', MODELS: `${MODEL},${OTHER}`, ...env });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/health`)).ok, 60_000, 'sim engine healthy');
  return url;
}

const post = (url: string, body: unknown, signal?: AbortSignal) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
const get = (url: string) => fetch(url);

async function metric(url: string, name: string, model = MODEL): Promise<number> {
  const families = parseExposition(await (await get(`${url}/metrics`)).text());
  const value = findSample(families, name, { model_name: model });
  if (value === undefined) throw new Error(`${name} missing`);
  return value;
}

/** The data events of an SSE body, with the time each arrived. */
async function readSse(res: Response): Promise<Array<{ at: number; data: string }>> {
  const events: Array<{ at: number; data: string }> = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (event.startsWith('data: ')) events.push({ at: performance.now(), data: event.slice(6) });
    }
  }
  return events;
}

// A system prompt of 2000 characters (500 simulated tokens) shared by two requests.
const SYSTEM = 'You are a careful assistant for the accounts team. '.repeat(40);

let url: string;

beforeAll(async () => {
  // Slow enough steps that requests overlap; 2 slots so that a third request has to wait.
  url = await startSim({ MAX_NUM_SEQS: '2', KV_BLOCKS: '512', BLOCK_SIZE: '16', PREFILL_MS_PER_TOKEN: '0.2', DECODE_MS_PER_STEP: '20', DECODE_MS_PER_SEQ: '1', MAX_LOADED_MODELS: '1' });
}, 90_000);

afterAll(stopAll);

describe('ENGINE=sim sample server', () => {
  it('exports vLLM metrics labelled by model, valid for promtool', async () => {
    const text = await (await get(`${url}/metrics`)).text();
    const families = parseExposition(text);
    const types: Record<string, string> = {
      'vllm:num_requests_running': 'gauge',
      'vllm:num_requests_waiting': 'gauge',
      'vllm:kv_cache_usage_perc': 'gauge',
      'vllm:prefix_cache_queries_total': 'counter',
      'vllm:prefix_cache_hits_total': 'counter',
      'vllm:time_to_first_token_seconds': 'histogram',
      'vllm:e2e_request_latency_seconds': 'histogram',
    };
    for (const [name, type] of Object.entries(types)) {
      expect(families.get(name)?.type, name).toBe(type);
      for (const model of [MODEL, OTHER]) expect(families.get(name)!.samples.some((s) => s.labels.model_name === model), `${name} ${model}`).toBe(true);
    }
    expect(findSample(families, 'vllm:time_to_first_token_seconds_bucket', { model_name: MODEL, le: '2560' })).toBe(0);
    expect(text).toContain(`vllm:cache_config_info{model_name="${MODEL}",engine="0",block_size="16",num_gpu_blocks="512",enable_prefix_caching="True"} 1`);
    // The process metrics the server always exported are still there.
    expect(text).toContain('process_cpu_user_seconds_total');
    // Prometheus parses it; its linter only objects to the colons vLLM's names have (and to prom-client's own names).
    const { problems } = promtoolCheckMetrics(text);
    expect(problems.filter((p) => !/should not contain ':'|non-counter metrics should not have "_total" suffix/.test(p))).toEqual([]);
    expect(problems.some((p) => p.startsWith('vllm:kv_cache_usage_perc'))).toBe(true);
  });

  it('streams the requested tokens with the right usage, and a repeated conversation hits the prefix cache', async () => {
    const messages = [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: 'How do I close the quarter?' },
    ];
    const hitsBefore = await metric(url, 'vllm:prefix_cache_hits_total');
    const queriesBefore = await metric(url, 'vllm:prefix_cache_queries_total');
    const first = await readSse(await post(`${url}/v1/chat/completions`, { model: MODEL, messages, max_tokens: 8, stream: true, stream_options: { include_usage: true } }));
    const contentChunks = first.filter((e) => e.data !== '[DONE]' && (JSON.parse(e.data) as { choices: Array<{ delta?: { content?: string } }> }).choices[0]?.delta?.content !== undefined);
    expect(contentChunks).toHaveLength(8);
    const usage = (JSON.parse(first.at(-2)!.data) as { usage: Record<string, number> }).usage;
    const promptChars = messages.map((m) => m.content).join('\n').length;
    expect(usage).toEqual({ prompt_tokens: Math.ceil(promptChars / 4), completion_tokens: 8, total_tokens: Math.ceil(promptChars / 4) + 8 });
    // Tokens come as decode steps complete (20 ms apart at least), not in one burst.
    expect(contentChunks.at(-1)!.at - contentChunks[0]!.at).toBeGreaterThanOrEqual(7 * 20 * 0.9);
    const hitsAfterFirst = await metric(url, 'vllm:prefix_cache_hits_total');
    expect(await metric(url, 'vllm:prefix_cache_queries_total')).toBe(queriesBefore + usage.prompt_tokens!);

    // The same conversation, one turn further: its leading blocks are cached.
    const followUp = [...messages, { role: 'assistant', content: 'Reconcile, then report.' }, { role: 'user', content: 'And then?' }];
    const res = await post(`${url}/v1/chat/completions`, { model: MODEL, messages: followUp, max_tokens: 4 });
    expect(res.status).toBe(200);
    const hitsAfterSecond = await metric(url, 'vllm:prefix_cache_hits_total');
    expect(hitsAfterFirst).toBe(hitsBefore);
    expect(hitsAfterSecond - hitsAfterFirst).toBeGreaterThanOrEqual(Math.floor(SYSTEM.length / 4 / 16) * 16);
    expect(await metric(url, 'vllm:time_to_first_token_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(await metric(url, 'vllm:e2e_request_latency_seconds_count')).toBeGreaterThanOrEqual(2);
  });

  it('queues requests beyond MAX_NUM_SEQS: waiting and running move, then return to zero', async () => {
    const abort = new AbortController();
    const inFlight = Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        post(`${url}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content: `question ${i} `.repeat(50) }], max_tokens: 20 }, abort.signal).then((r) => r.text()),
      ),
    );
    try {
      let seen = { running: 0, waiting: 0, kv: 0 };
      await waitFor(
        async () => {
          // One scrape, so that the three values describe the same moment.
          const families = parseExposition(await (await get(`${url}/metrics`)).text());
          const value = (name: string) => findSample(families, name, { model_name: MODEL }) ?? Number.NaN;
          seen = { running: value('vllm:num_requests_running'), waiting: value('vllm:num_requests_waiting'), kv: value('vllm:kv_cache_usage_perc') };
          return seen.waiting > 0 && seen.running === 2;
        },
        15_000,
        'a waiting request behind a full batch',
      );
      expect(seen.running).toBe(2);
      expect(seen.kv).toBeGreaterThan(0);
      expect(seen.kv).toBeLessThanOrEqual(1);
      await inFlight;
    } finally {
      abort.abort();
      await inFlight.catch(() => undefined);
    }
    expect(await metric(url, 'vllm:num_requests_running')).toBe(0);
    expect(await metric(url, 'vllm:num_requests_waiting')).toBe(0);
    expect(await metric(url, 'vllm:kv_cache_usage_perc')).toBe(0);
  });

  it('lists resident models in /api/ps and makes a cold model pay its load time', async () => {
    const before = (await (await get(`${url}/api/ps`)).json()) as { models: Array<{ name: string }> };
    expect(before.models.map((m) => m.name)).toEqual([MODEL]);
    const cold = (await (await post(`${url}/api/generate`, { model: OTHER, prompt: 'hello there', stream: false, options: { num_predict: 3 } })).json()) as Record<string, number>;
    expect(cold.load_duration).toBeGreaterThanOrEqual(300e6 * 0.9);
    expect(cold.eval_count).toBe(3);
    expect(cold.prompt_eval_count).toBe(Math.ceil('hello there'.length / 4));
    const after = (await (await get(`${url}/api/ps`)).json()) as { models: Array<{ name: string }> };
    expect(after.models.map((m) => m.name)).toEqual([OTHER]);
    const warm = (await (await post(`${url}/api/generate`, { model: OTHER, prompt: 'hello again', stream: false, options: { num_predict: 3 } })).json()) as Record<string, number>;
    expect(warm.load_duration).toBe(0);
  });

  it('streams Ollama NDJSON token by token with a right eval_count', async () => {
    const res = await post(`${url}/api/chat`, { model: OTHER, messages: [{ role: 'user', content: 'count to five' }], options: { num_predict: 5 } });
    const lines = (await res.text()).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.filter((l) => l.done === false)).toHaveLength(5);
    expect(lines.at(-1)).toMatchObject({ done: true, eval_count: 5 });
  });

  it('stall fault: the stream opens at once but the first token comes only after the delay', async () => {
    expect((await post(`${url}/admin/fault`, { mode: 'stall', delay_ms: 600 })).status).toBe(200);
    try {
      const started = performance.now();
      const res = await post(`${url}/v1/chat/completions`, { model: OTHER, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, stream: true });
      const headersAt = performance.now();
      expect(res.status).toBe(200);
      const events = await readSse(res);
      expect(events[0]!.at - started).toBeGreaterThanOrEqual(600);
      expect(headersAt - started).toBeLessThan(events[0]!.at - started);
      // Health is not stalled: the server looks fine until a generation is attempted.
      expect((await get(`${url}/health`)).status).toBe(200);
    } finally {
      await post(`${url}/admin/fault`, { mode: 'none' });
    }
  });

  it('refuses a prompt larger than the KV cache with a 400 in the API shape', async () => {
    const res = await post(`${url}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(512 * 16 * 4) }], max_tokens: 1 });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
  });
});
