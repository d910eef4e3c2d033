import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import type { LoadReport } from './report.js';

/**
 * Readers of the engines' Prometheus metrics. Values are summed over the `model_name` (and
 * engine) series of a family, since one endpoint may serve several models; KV usage takes the
 * highest series, because a request waits on the fullest cache it needs.
 */

/**
 * The most samples one family read may have. An engine gives one series per model and engine
 * (data-parallel rank): a few, tens at most. More is not an engine's load report, and would cost
 * the parser (synchronous, on the event loop) more than a scrape is worth.
 */
export const MAX_SERIES_PER_FAMILY = 256;

/**
 * The most characters the lines kept (those of the families read) may take in all. An engine's
 * are a few KiB (`vllm:cache_config_info`, the longest, is under 1 KiB a series); parsing this
 * much takes a few milliseconds, where a 4 MiB answer took hundreds.
 */
export const MAX_KEPT_CHARS = 64 * 1024;

/** vLLM's families read; `vllm:gpu_cache_usage_perc` is the KV usage's name before vLLM 0.10. */
const VLLM_FAMILIES = ['vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc', 'vllm:cache_config_info'];
const SGLANG_FAMILIES = ['sglang:num_running_reqs', 'sglang:num_queue_reqs', 'sglang:token_usage'];

/** vLLM (`vllm:*`). Both KV usages are ratios 0-1. */
export function parseVllmMetrics(text: string): LoadReport {
  const families = readFamilies(text, VLLM_FAMILIES);
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
  const families = readFamilies(text, SGLANG_FAMILIES);
  const tokenUsage = maxOf(families.get('sglang:token_usage'));
  return {
    running: sumOf(families.get('sglang:num_running_reqs')),
    waiting: sumOf(families.get('sglang:num_queue_reqs')),
    kvUsage: tokenUsage === undefined ? undefined : clampRatio(tokenUsage),
  };
}

/**
 * Parses the families `names`, and throws when the answer has a sample of none of them: it is
 * not what this engine sends (another engine's /metrics, a login page), and must count as a
 * failed read rather than as a report that says nothing.
 */
function readFamilies(text: string, names: readonly string[]): Map<string, ParsedFamily> {
  const families = new Map<string, ParsedFamily>();
  for (const family of parsePrometheusTextFormat(`${linesOf(text, names).join('\n')}\n`)) families.set(family.name, family);
  if (!names.some((name) => (families.get(name)?.metrics.length ?? 0) > 0)) {
    throw new Error(`answer has none of ${names.join(', ')} (is load_source right for this server?)`);
  }
  return families;
}

/**
 * The lines of the families `names` (their `# HELP` and `# TYPE` lines and samples, by exact
 * name), family by family. An engine's /metrics is mostly histograms and counters never read:
 * they cost a search for each name here, not a parse. Throws past MAX_SERIES_PER_FAMILY or
 * MAX_KEPT_CHARS.
 */
function linesOf(text: string, names: readonly string[]): string[] {
  const kept: string[] = [];
  let chars = 0;
  for (const name of names) {
    let series = 0;
    for (let at = text.indexOf(name); at !== -1; ) {
      const newline = text.indexOf('\n', at);
      const end = newline === -1 ? text.length : newline;
      const start = lineStartOfName(text, at);
      if (start !== undefined && endsName(text, at + name.length, end)) {
        chars += end - start;
        if (chars > MAX_KEPT_CHARS) throw new Error(`answer's lines of the families read exceed ${MAX_KEPT_CHARS} characters (at ${name})`);
        if (start === at && ++series > MAX_SERIES_PER_FAMILY) throw new Error(`answer has more than ${MAX_SERIES_PER_FAMILY} series of ${name}`);
        kept.push(text.slice(start, end));
      }
      // A name only begins a line (or follows its `# HELP `/`# TYPE `): the next one is on a later line.
      at = newline === -1 ? -1 : text.indexOf(name, newline + 1);
    }
  }
  return kept;
}

/** Where the line starts when a metric name begins at `at`: a sample's, or one of `# HELP `/`# TYPE `; else undefined. */
function lineStartOfName(text: string, at: number): number | undefined {
  if (at === 0 || text.charAt(at - 1) === '\n') return at;
  const start = at - '# HELP '.length;
  const atLineStart = start === 0 || (start > 0 && text.charAt(start - 1) === '\n');
  return atLineStart && (text.startsWith('# HELP ', start) || text.startsWith('# TYPE ', start)) ? start : undefined;
}

/** What may follow a metric name on its line: labels, a blank before the value or help text, a CR. */
const NAME_ENDS = new Set(['{', ' ', '\t', '\r']);

/** Whether a metric name ends at `after` (its line ends at `end`), rather than going on into a longer one. */
function endsName(text: string, after: number, end: number): boolean {
  return after === end || NAME_ENDS.has(text.charAt(after));
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
