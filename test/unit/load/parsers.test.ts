import { describe, expect, it } from 'vitest';
import { parseLmStudioModels, parseOllamaPs, parseSglangMetrics, parseVllmMetrics } from '../../../src/load/index.js';

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

  it('reports nothing it does not see, and clamps a usage outside 0-1', () => {
    expect(parseVllmMetrics('# an unrelated server\nup 1\n')).toEqual({ running: undefined, waiting: undefined, kvUsage: undefined, kvCapacityTokens: undefined });
    expect(parseVllmMetrics('vllm:kv_cache_usage_perc{model_name="m"} 1.7\n').kvUsage).toBe(1);
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
