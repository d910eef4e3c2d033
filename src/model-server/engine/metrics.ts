import client from 'prom-client';
import type { EngineObserver, EngineStats } from './scheduler.js';

/** Bucket bounds of vLLM's own histograms (vllm/v1/metrics/loggers.py), so dashboards read both alike. */
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];
const E2E_BUCKETS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];

/** vLLM labels every series with the model and the engine index; the simulation has engine 0 per model. */
const LABELS = ['model_name', 'engine'] as const;

export interface SimulatedModel {
  readonly name: string;
  readonly stats: () => EngineStats;
  readonly blockSize: number;
  readonly kvBlocks: number;
}

/**
 * The simulated engines' Prometheus metrics under vLLM's names and meanings: gauges read each
 * engine's state at scrape time, counters and histograms are fed by the engines as they work.
 */
export class EngineMetrics {
  readonly registry = new client.Registry();
  private readonly queries: client.Counter<(typeof LABELS)[number]>;
  private readonly hits: client.Counter<(typeof LABELS)[number]>;
  private readonly preemptions: client.Counter<(typeof LABELS)[number]>;
  private readonly promptTokens: client.Counter<(typeof LABELS)[number]>;
  private readonly generationTokens: client.Counter<(typeof LABELS)[number]>;
  private readonly ttft: client.Histogram<(typeof LABELS)[number]>;
  private readonly e2e: client.Histogram<(typeof LABELS)[number]>;

  constructor(models: readonly SimulatedModel[]) {
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: (stats: EngineStats) => number) =>
      new client.Gauge({
        name,
        help,
        labelNames: LABELS,
        registers,
        collect() {
          for (const model of models) this.set({ model_name: model.name, engine: '0' }, read(model.stats()));
        },
      });
    gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', (s) => s.running);
    gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', (s) => s.waiting);
    gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', (s) => s.kvUsage);
    const info = new client.Gauge({
      name: 'vllm:cache_config_info',
      help: 'Information of the LLMEngine CacheConfig',
      labelNames: [...LABELS, 'block_size', 'num_gpu_blocks', 'enable_prefix_caching'],
      registers,
    });
    for (const model of models) {
      info.set({ model_name: model.name, engine: '0', block_size: String(model.blockSize), num_gpu_blocks: String(model.kvBlocks), enable_prefix_caching: 'True' }, 1);
    }
    const counter = (name: string, help: string) => new client.Counter({ name, help, labelNames: LABELS, registers });
    this.queries = counter('vllm:prefix_cache_queries_total', 'Prefix cache queries, in terms of number of queried tokens.');
    this.hits = counter('vllm:prefix_cache_hits_total', 'Prefix cache hits, in terms of number of cached tokens.');
    this.preemptions = counter('vllm:num_preemptions_total', 'Cumulative number of preemption from the engine.');
    this.promptTokens = counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.');
    this.generationTokens = counter('vllm:generation_tokens_total', 'Number of generation tokens processed.');
    const histogram = (name: string, help: string, buckets: number[]) => new client.Histogram({ name, help, labelNames: LABELS, buckets, registers });
    this.ttft = histogram('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', TTFT_BUCKETS);
    this.e2e = histogram('vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', E2E_BUCKETS);
    // Every series exists from the start, at zero, as vLLM's do.
    for (const model of models) {
      const labels = { model_name: model.name, engine: '0' };
      for (const metric of [this.queries, this.hits, this.preemptions, this.promptTokens, this.generationTokens]) metric.inc(labels, 0);
      this.ttft.zero(labels);
      this.e2e.zero(labels);
    }
  }

  /** The observer one model's engine reports to. */
  observer(model: string): EngineObserver {
    const labels = { model_name: model, engine: '0' };
    return {
      prefixLookup: (queried, hits) => {
        this.queries.inc(labels, queried);
        this.hits.inc(labels, hits);
      },
      firstToken: (seconds) => this.ttft.observe(labels, seconds),
      finished: (seconds, prompt, output) => {
        this.e2e.observe(labels, seconds);
        this.promptTokens.inc(labels, prompt);
        this.generationTokens.inc(labels, output);
      },
      preempted: () => this.preemptions.inc(labels),
    };
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
