import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import type { LoadReport } from './report.js';

/**
 * Readers of the engines' Prometheus metrics. Values are summed over the `model_name` (and
 * engine) series of a family, since one endpoint may serve several models; KV usage takes the
 * highest series, because a request waits on the fullest cache it needs.
 */

/** vLLM (`vllm:*`); `vllm:gpu_cache_usage_perc` is the name before vLLM 0.10. Both are ratios 0-1. */
export function parseVllmMetrics(text: string): LoadReport {
  const families = readFamilies(text, 'vllm:');
  const kvUsage = maxOf(families.get('vllm:kv_cache_usage_perc')) ?? maxOf(families.get('vllm:gpu_cache_usage_perc'));
  return {
    running: sumOf(families.get('vllm:num_requests_running')),
    waiting: sumOf(families.get('vllm:num_requests_waiting')),
    kvUsage: kvUsage === undefined ? undefined : clampRatio(kvUsage),
    kvCapacityTokens: capacityOf(families.get('vllm:cache_config_info')),
  };
}

/** SGLang (`sglang:*`): `token_usage` is the share of the KV token pool in use. */
export function parseSglangMetrics(text: string): LoadReport {
  const families = readFamilies(text, 'sglang:');
  const tokenUsage = maxOf(families.get('sglang:token_usage'));
  return {
    running: sumOf(families.get('sglang:num_running_reqs')),
    waiting: sumOf(families.get('sglang:num_queue_reqs')),
    kvUsage: tokenUsage === undefined ? undefined : clampRatio(tokenUsage),
  };
}

/**
 * Parses only the lines of one engine's families. An engine's /metrics is mostly histograms
 * (tens of kilobytes); dropping them first keeps a 250 ms scrape of many endpoints cheap.
 */
function readFamilies(text: string, prefix: string): Map<string, ParsedFamily> {
  const kept: string[] = [];
  for (const line of text.split('\n')) {
    const name = line.startsWith('# ') ? line.split(' ', 3)[2] ?? '' : line;
    if (name.startsWith(prefix) && !/_(bucket|sum|count|created)[{ ]/.test(line)) kept.push(line);
  }
  const families = new Map<string, ParsedFamily>();
  for (const family of parsePrometheusTextFormat(`${kept.join('\n')}\n`)) families.set(family.name, family);
  return families;
}

function values(family: ParsedFamily | undefined): number[] {
  if (!family) return [];
  return family.metrics.map((sample) => Number(sample.value)).filter((value) => Number.isFinite(value));
}

function sumOf(family: ParsedFamily | undefined): number | undefined {
  const all = values(family);
  return all.length === 0 ? undefined : all.reduce((sum, value) => sum + Math.max(0, value), 0);
}

function maxOf(family: ParsedFamily | undefined): number | undefined {
  const all = values(family);
  return all.length === 0 ? undefined : Math.max(...all);
}

/** `vllm:cache_config_info{block_size, num_gpu_blocks}`: the KV cache's size in tokens. */
function capacityOf(family: ParsedFamily | undefined): number | undefined {
  const labels = family?.metrics[0]?.labels;
  const tokens = Number(labels?.block_size) * Number(labels?.num_gpu_blocks);
  return Number.isFinite(tokens) && tokens > 0 ? tokens : undefined;
}

function clampRatio(value: number): number {
  return Math.min(1, Math.max(0, value));
}
