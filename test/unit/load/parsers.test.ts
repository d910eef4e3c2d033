import { describe, expect, it } from 'vitest';
import { MAX_KEPT_CHARS, MAX_SERIES_PER_FAMILY, parseLmStudioModels, parseOllamaPs, parseSglangMetrics, parseVllmMetrics } from '../../../src/load/index.js';

// Shaped like vLLM 0.10's /metrics: two models on one server, histograms in between.
const VLLM = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="llama"} 3.0
vllm:num_requests_running{engine="0",model_name="qwen"} 1.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="llama"} 5.0
vllm:num_requests_waiting{engine="0",model_name="qwen"} 0.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="llama"} 0.42
vllm:kv_cache_usage_perc{engine="0",model_name="qwen"} 0.1
# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig
# TYPE vllm:cache_config_info gauge
vllm:cache_config_info{block_size="16",engine="0",num_gpu_blocks="1000"} 1.0
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.001",model_name="llama"} 0.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="llama"} 7.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="llama"} 7.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="llama"} 1.5
# HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of cached tokens.
# TYPE vllm:prefix_cache_hits_total counter
vllm:prefix_cache_hits_total{engine="0",model_name="llama"} 640.0
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.2e+09
`;

describe('vLLM metrics', () => {
  it('sums requests over models, takes the fullest KV cache and its size in tokens', () => {
    expect(parseVllmMetrics(VLLM)).toEqual({ running: 4, waiting: 5, kvUsage: 0.42, kvCapacityTokens: 16_000 });
  });

  it('reads the KV usage of vLLM before 0.10 (gpu_cache_usage_perc)', () => {
    const old = `# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{model_name="m"} 0.75
vllm:num_requests_running{model_name="m"} 2
vllm:num_requests_waiting{model_name="m"} 0
`;
    expect(parseVllmMetrics(old)).toMatchObject({ running: 2, waiting: 0, kvUsage: 0.75 });
  });

  it('reports nothing of a family it does not see, and clamps a usage outside 0-1', () => {
    expect(parseVllmMetrics('vllm:kv_cache_usage_perc{model_name="m"} 1.7\n')).toEqual({ running: undefined, waiting: undefined, kvUsage: 1, kvCapacityTokens: undefined });
  });

  it('reads only the families it names, exactly: not a longer name, nor one inside a label or another comment', () => {
    const text = `# HELP vllm:num_requests_running_total A longer name.
# TYPE vllm:num_requests_running_total counter
vllm:num_requests_running_total{model_name="m"} 99
# a comment naming vllm:num_requests_waiting 50
other{note="vllm:num_requests_waiting 50"} 1
vllm:num_requests_running{model_name="m"} 2\r
vllm:num_requests_waiting 1
`;
    expect(parseVllmMetrics(text)).toMatchObject({ running: 2, waiting: 1 });
  });
});

describe('an answer that is not the family\'s own', () => {
  // What a scrape with the wrong load_source, or of a server that is not the engine, gets with a 2xx.
  const SGLANG = '# TYPE sglang:num_running_reqs gauge\nsglang:num_running_reqs{model_name="m"} 3\n';
  const LLAMACPP = '# HELP llamacpp:requests_processing Number of requests processing.\n# TYPE llamacpp:requests_processing gauge\nllamacpp:requests_processing 2\n';
  const TGI = '# TYPE tgi_queue_size gauge\ntgi_queue_size 4\n# TYPE tgi_batch_current_size gauge\ntgi_batch_current_size 8\n';
  const LOGIN = '<!doctype html>\n<html><head><title>Sign in</title></head><body><form action="/login"></form></body></html>\n';

  it('is refused by the vLLM reader, naming the families it looked for', () => {
    for (const body of [SGLANG, LLAMACPP, TGI, LOGIN, '', '# HELP vllm:num_requests_running declared, no samples\n']) {
      expect(() => parseVllmMetrics(body)).toThrow(/none of vllm:num_requests_running, vllm:num_requests_waiting, vllm:kv_cache_usage_perc/);
    }
    // Histograms and counters of vLLM's own are not what it reads either.
    expect(() => parseVllmMetrics(VLLM.replace(/^vllm:(num_requests|kv_cache|cache_config).*\n/gm, ''))).toThrow(/none of vllm:/);
  });

  it('is refused by the SGLang reader, naming the families it looked for', () => {
    for (const body of [VLLM, LLAMACPP, TGI, LOGIN]) {
      expect(() => parseSglangMetrics(body)).toThrow(/none of sglang:num_running_reqs, sglang:num_queue_reqs, sglang:token_usage/);
    }
  });
});

describe('an answer too large to parse on the event loop', () => {
  const series = (name: string, count: number) => Array.from({ length: count }, (_, i) => `${name}{model_name="m${i}"} 1`).join('\n');

  it('is refused past MAX_SERIES_PER_FAMILY series of a family read', () => {
    expect(parseVllmMetrics(`${series('vllm:num_requests_running', MAX_SERIES_PER_FAMILY)}\n`).running).toBe(MAX_SERIES_PER_FAMILY);
    expect(() => parseVllmMetrics(`${series('vllm:num_requests_running', MAX_SERIES_PER_FAMILY + 1)}\n`)).toThrow(
      new RegExp(`more than ${MAX_SERIES_PER_FAMILY} series of vllm:num_requests_running`),
    );
    expect(() => parseSglangMetrics(`${series('sglang:num_queue_reqs', 10_000)}\n`)).toThrow(/series of sglang:num_queue_reqs/);
  });

  it('is refused past MAX_KEPT_CHARS of the families read, a single line or a help text included', () => {
    const long = 'x'.repeat(MAX_KEPT_CHARS);
    expect(() => parseVllmMetrics(`vllm:num_requests_running{model_name="${long}"} 1\n`)).toThrow(new RegExp(`exceed ${MAX_KEPT_CHARS} characters`));
    expect(() => parseVllmMetrics(`# HELP vllm:num_requests_waiting ${long}\nvllm:num_requests_waiting 1\n`)).toThrow(/exceed/);
  });

  it('does not hold the families it does not read against the bounds, however large', () => {
    const unread = Array.from({ length: 20_000 }, (_, i) => `vllm:prompt_tokens_total{model_name="m${i}",engine="0"} ${i}\nvllm:e2e_request_latency_seconds_bucket{le="${i}"} 1`).join('\n');
    expect(unread.length).toBeGreaterThan(MAX_KEPT_CHARS * 20);
    expect(parseVllmMetrics(`${unread}\nvllm:num_requests_running 3\n${unread}\n`)).toMatchObject({ running: 3, waiting: undefined });
  });
});

describe('SGLang metrics', () => {
  it('reads queue, running requests and token usage', () => {
    const text = `# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{model_name="m",tp_rank="0"} 12.0
# TYPE sglang:num_queue_reqs gauge
sglang:num_queue_reqs{model_name="m",tp_rank="0"} 7.0
# TYPE sglang:token_usage gauge
sglang:token_usage{model_name="m",tp_rank="0"} 0.61
`;
    expect(parseSglangMetrics(text)).toEqual({ running: 12, waiting: 7, kvUsage: 0.61 });
  });
});

describe('loaded models', () => {
  it('reads Ollama /api/ps', () => {
    const ps = { models: [{ name: 'llama3:latest', model: 'llama3:latest', size: 5_137_025_024, expires_at: '2026-01-01T00:00:00Z' }] };
    expect([...parseOllamaPs(ps).residentModels!]).toEqual(['llama3:latest']);
    expect(parseOllamaPs({ models: [] }).residentModels!.size).toBe(0);
    expect(() => parseOllamaPs({ data: [] })).toThrow(/models/);
  });

  it('reads LM Studio /api/v0/models, loaded models only', () => {
    const body = { object: 'list', data: [{ id: 'qwen2-vl-7b', state: 'loaded' }, { id: 'llama-3.2-1b', state: 'not-loaded' }] };
    expect([...parseLmStudioModels(body).residentModels!]).toEqual(['qwen2-vl-7b']);
    expect(() => parseLmStudioModels('nope')).toThrow(/data/);
  });
});
