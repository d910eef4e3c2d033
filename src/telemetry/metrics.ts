import client from 'prom-client';
import { CIRCUIT_STATES, HEALTH_STATES } from '../endpoints/index.js';
import { OWNER_LOOKUPS, type OwnerLookup } from '../affinity/index.js';
import { ROUTE_REASONS, type RouteReason } from '../balancing/index.js';
import { BoundCounter, BoundHistogram } from './bound-series.js';
import { FAILURE_REASONS, type FailureReason } from './failure-reasons.js';

export type CheckResult = 'success' | 'failure' | 'timeout';

/** What the metrics need to read from the live endpoint set at scrape time. */
export interface EndpointSnapshot {
  readonly name: string;
  readonly url: string; // credentials already stripped
  readonly type: string;
  readonly priority: number;
  readonly state: string;
  readonly routable: boolean;
  /** Absent in a cluster primary, which sends no requests and so has no breaker of its own. */
  readonly circuit?: string;
  readonly consecutiveFailures: number;
  readonly activeConnections: number;
  readonly effectiveWeight: number;
}

/** The load Sluice sees of an endpoint with a load source (the latest report, even when stale). */
export interface EndpointLoadSnapshot {
  readonly name: string;
  readonly stale: boolean;
  readonly running?: number;
  readonly waiting?: number;
  readonly kvUsage?: number;
  /** Seconds since the last successful scrape; undefined before the first. */
  readonly ageSeconds?: number;
}

export interface MetricsSource {
  endpoints(): readonly EndpointSnapshot[];
  /** Endpoints that have a load source. */
  endpointLoads(): readonly EndpointLoadSnapshot[];
  /** Block hashes in the prefix index (0 when the strategy keeps none). */
  prefixIndexSize(): number;
  /** Model name -> number of routable endpoints serving it (every model some endpoint last listed, 0 when none). */
  modelAvailability(): ReadonlyMap<string, number>;
  /** Bytes of request bodies the process holds in memory (see limits.max_body_total). */
  requestBodiesHeld(): number;
}


// OpenTelemetry GenAI `gen_ai.client.operation.duration` buckets, extended to minutes for long generations.
const REQUEST_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92, 163.84, 327.68];
// GenAI `time_to_first_token` buckets, extended for cold model loads.
const TTFB_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60];
// GenAI `time_per_output_token` buckets, with finer ones for fast local models.
const ITL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5];
// Sluice's own time: 50 µs to 1 s.
const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const CHECK_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The `stream` label of `sluice_time_to_first_token_seconds`: whether the response was a token
 * stream (SSE or NDJSON), which decides what its first token is: the first chunk carrying
 * content (`true`), or the end of the body of any other response (`false`, so the whole
 * generation). One list; the type is derived from it.
 */
export const STREAM_LABELS = ['true', 'false'] as const;
export type StreamLabel = (typeof STREAM_LABELS)[number];

/** The `stream` label of a response that was (or was not) streamed. */
export function streamLabel(streamed: boolean): StreamLabel {
  return streamed ? 'true' : 'false';
}

/** A response's time to first token and what it was taken at (see StreamLabel). */
export interface FirstTokenObservation {
  /** Arrival to the first generated token (streams) or the end of the body (other responses). */
  readonly seconds: number;
  /** The response was a token stream (SSE or NDJSON): the `stream` label. */
  readonly streamed: boolean;
}

export interface RequestObservation {
  readonly endpoint: string; // 'none' when no endpoint answered
  readonly model: string; // already bounded: catalog name, 'unknown' or 'none'
  readonly code: number;
  readonly durationSeconds: number;
  /** The answer was a stream (SSE or NDJSON): the `stream` label of its duration. */
  readonly streamed?: boolean;
  readonly ttfbSeconds?: number;
  readonly ttft?: FirstTokenObservation;
  /** Sluice's own time on the request (arrival to upstream request written, plus upstream headers to client headers). */
  readonly overheadSeconds?: number;
  /** A streamed answer that ended (cut, or its client gone) before its first token: no time to first token to observe. */
  readonly firstTokenMissed?: boolean;
  readonly traceId?: string;
}

interface RequestSeries {
  /** By status code. */
  readonly requests: Map<number, BoundCounter>;
  /** By `stream` label. */
  readonly duration: Readonly<Record<StreamLabel, BoundHistogram>>;
  readonly ttfb: BoundHistogram;
  /** By `stream` label. */
  readonly ttft: Readonly<Record<StreamLabel, BoundHistogram>>;
  readonly overhead: BoundHistogram;
  readonly firstTokenMissed: BoundCounter;
  readonly itl: BoundHistogram;
  readonly inputTokens: BoundCounter;
  readonly outputTokens: BoundCounter;
}

/** One bound series of `histogram` per `stream` label value, for an endpoint and model. */
function byStream(histogram: client.Histogram<string>, endpoint: string, model: string): Record<StreamLabel, BoundHistogram> {
  return Object.fromEntries(STREAM_LABELS.map((stream) => [stream, new BoundHistogram(histogram, { endpoint, model, stream })])) as Record<StreamLabel, BoundHistogram>;
}

/**
 * How each gauge merges across the processes of a cluster (prom-client's `aggregator`): `first`
 * for state the primary decides and every worker copies (the primary's value comes first in the
 * merge), `sum` for what each worker holds on its own, `max` for per-worker state sets.
 */
export type Aggregator = 'first' | 'sum' | 'max';

/** Output of a merge across processes, or of one process alone. */
export interface RenderedMetrics {
  readonly contentType: string;
  readonly body: string;
}

export interface MetricsBuild {
  readonly version: string;
  /**
   * In a cluster: which process this is (`primary` or the worker's slot), a `worker` label on
   * Node's default process_* and nodejs_* metrics so each process keeps its own series.
   */
  readonly processLabel?: string;
  /** In a cluster worker: renders the merge of every process instead of this one's registry. */
  readonly render?: (openMetrics: boolean) => Promise<RenderedMetrics>;
}

/** Where the gaps between one response's streamed chunks are observed: a child resolved once per request. */
export interface GapObserver {
  observe(seconds: number): void;
}

/**
 * Sluice's Prometheus metrics. Gauges describing endpoints are computed at scrape time from
 * the live state (no bookkeeping on the request path); counters and histograms are updated
 * as events happen. Two registries share the same metric objects: one renders the classic
 * text format, the other OpenMetrics with exemplars, chosen by the scraper's Accept header.
 */
export class SluiceMetrics {
  readonly openMetricsRegistry = new client.Registry<client.OpenMetricsContentType>();
  readonly textRegistry = new client.Registry();

  readonly #requests;
  // Label names are widened to string: prom-client's types tie exemplar label names to the metric's own.
  readonly #requestDuration: client.Histogram<string>;
  readonly #ttfb: client.Histogram<string>;
  readonly #ttft: client.Histogram<string>;
  readonly #firstTokenMissed: client.Counter<string>;
  readonly #itl: client.Histogram<string>;
  readonly #overhead: client.Histogram<string>;
  readonly #retries;
  readonly #failures;
  readonly #tokens;
  readonly #checks;
  readonly #checkDuration;
  readonly #transitions;
  readonly #configReloads;
  readonly #loadScrapes;
  readonly #routeDecisions;
  readonly #prefixLookups;
  readonly #ownerLookups;
  readonly #shutdownCut;

  readonly #renderMerged: MetricsBuild['render'];

  constructor(source: MetricsSource, build: MetricsBuild) {
    this.#renderMerged = build.render;
    this.openMetricsRegistry.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);
    const registers = [this.openMetricsRegistry];
    const gauge = (name: string, help: string, labelNames: string[], aggregator: Aggregator, collect: (g: client.Gauge<string>) => void) =>
      new client.Gauge({ name, help, labelNames, registers, aggregator, collect(this: client.Gauge<string>) { this.reset(); collect(this); } });

    gauge('sluice_endpoint_info', 'Configured endpoint (value 1).', ['endpoint', 'url', 'type', 'priority'], 'first', (g) => {
      for (const e of source.endpoints()) g.set({ endpoint: e.name, url: e.url, type: e.type, priority: String(e.priority) }, 1);
    });
    gauge('sluice_endpoint_state', 'Health state of the endpoint (state set: 1 for the current state).', ['endpoint', 'state'], 'first', (g) => {
      for (const e of source.endpoints()) for (const s of HEALTH_STATES) g.set({ endpoint: e.name, state: s }, e.state === s ? 1 : 0);
    });
    gauge('sluice_endpoint_up', '1 when the endpoint is routable (healthy, degraded or recovering).', ['endpoint'], 'first', (g) => {
      for (const e of source.endpoints()) g.set({ endpoint: e.name }, e.routable ? 1 : 0);
    });
    gauge('sluice_endpoint_circuit_state', 'Circuit breaker state (state set: 1 for the current state).', ['endpoint', 'state'], 'max', (g) => {
      for (const e of source.endpoints()) if (e.circuit !== undefined) for (const s of CIRCUIT_STATES) g.set({ endpoint: e.name, state: s }, e.circuit === s ? 1 : 0);
    });
    gauge('sluice_endpoint_consecutive_failures', 'Consecutive failed health checks.', ['endpoint'], 'first', (g) => {
      for (const e of source.endpoints()) g.set({ endpoint: e.name }, e.consecutiveFailures);
    });
    gauge('sluice_endpoint_active_connections', 'Requests in flight to the endpoint.', ['endpoint'], 'sum', (g) => {
      for (const e of source.endpoints()) g.set({ endpoint: e.name }, e.activeConnections);
    });
    gauge('sluice_endpoint_effective_weight', 'Weight used by the balancer after slow start and degradation.', ['endpoint'], 'first', (g) => {
      for (const e of source.endpoints()) g.set({ endpoint: e.name }, e.effectiveWeight);
    });
    gauge('sluice_models_available_endpoints', 'Routable endpoints serving each model.', ['model'], 'first', (g) => {
      for (const [model, n] of source.modelAvailability()) g.set({ model }, n);
    });
    gauge('sluice_endpoint_backend_requests', 'Requests the backend last reported, by state: running (in its batch) or waiting (queued).', ['endpoint', 'state'], 'first', (g) => {
      for (const e of source.endpointLoads()) {
        if (e.running !== undefined) g.set({ endpoint: e.name, state: 'running' }, e.running);
        if (e.waiting !== undefined) g.set({ endpoint: e.name, state: 'waiting' }, e.waiting);
      }
    });
    gauge('sluice_endpoint_backend_kv_cache_usage_ratio', 'KV-cache usage the backend last reported, 0 to 1.', ['endpoint'], 'first', (g) => {
      for (const e of source.endpointLoads()) if (e.kvUsage !== undefined) g.set({ endpoint: e.name }, e.kvUsage);
    });
    gauge('sluice_endpoint_load_age_seconds', 'Time since the endpoint last reported its load.', ['endpoint'], 'first', (g) => {
      for (const e of source.endpointLoads()) if (e.ageSeconds !== undefined) g.set({ endpoint: e.name }, e.ageSeconds);
    });
    gauge('sluice_endpoint_load_stale', '1 when the endpoint\'s load data is stale and routing uses Sluice\'s own counts for it.', ['endpoint'], 'first', (g) => {
      for (const e of source.endpointLoads()) g.set({ endpoint: e.name }, e.stale ? 1 : 0);
    });
    gauge('sluice_request_bodies_held_bytes', 'Request bodies held in memory: being read (as much as they may grow to) or kept for retries until their request ends. At limits.max_body_total (per process) new ones are refused with 503.', [], 'sum', (g) => g.set(source.requestBodiesHeld()));
    gauge('sluice_prefix_index_blocks', 'Prompt block hashes in the prefix-aware index.', [], 'sum', (g) => g.set(source.prefixIndexSize()));
    const buildInfo = new client.Gauge({ name: 'sluice_build_info', help: 'Sluice build (value 1).', labelNames: ['version', 'node_version'], registers, aggregator: 'first' });
    buildInfo.set({ version: build.version, node_version: process.version }, 1);

    this.#transitions = new client.Counter({ name: 'sluice_endpoint_state_transitions_total', help: 'Health state transitions.', labelNames: ['endpoint', 'from', 'to'], registers });
    this.#checks = new client.Counter({ name: 'sluice_health_checks_total', help: 'Active health checks by result.', labelNames: ['endpoint', 'result'], registers });
    this.#checkDuration = new client.Histogram({ name: 'sluice_health_check_duration_seconds', help: 'Latency of active health checks.', labelNames: ['endpoint'], buckets: CHECK_BUCKETS, registers });
    this.#failures = new client.Counter({ name: 'sluice_endpoint_failures_total', help: 'Failed upstream attempts by reason.', labelNames: ['endpoint', 'reason'], registers });
    this.#requests = new client.Counter({ name: 'sluice_requests_total', help: 'Completed client requests by answering endpoint, model and HTTP status.', labelNames: ['endpoint', 'model', 'code'], registers });
    this.#requestDuration = new client.Histogram({ name: 'sluice_request_duration_seconds', help: 'Whole client request duration, by whether the answer was streamed (stream="true": SSE or NDJSON, as long as its generation) or not.', labelNames: ['endpoint', 'model', 'stream'], buckets: REQUEST_BUCKETS, registers, enableExemplars: true });
    this.#ttfb = new client.Histogram({ name: 'sluice_time_to_first_byte_seconds', help: 'Time from request arrival to the first response byte from the backend.', labelNames: ['endpoint', 'model'], buckets: TTFB_BUCKETS, registers, enableExemplars: true });
    this.#ttft = new client.Histogram({ name: 'sluice_time_to_first_token_seconds', help: 'Time from request arrival to the first generated token of a stream (stream="true"), or to the end of the body of a response that is not streamed (stream="false").', labelNames: ['endpoint', 'model', 'stream'], buckets: TTFB_BUCKETS, registers, enableExemplars: true });
    this.#firstTokenMissed = new client.Counter({ name: 'sluice_first_token_missed_total', help: 'Streamed answers that ended before their first token: the backend cut the stream, or the client left or stalled, while it waited; or every endpoint tried missed the first-token deadline (endpoint none, answered 504). The time to first token they never had is not in sluice_time_to_first_token_seconds.', labelNames: ['endpoint', 'model'], registers });
    this.#itl = new client.Histogram({ name: 'sluice_inter_token_latency_seconds', help: 'Gaps between the chunks of a streamed response after its first token.', labelNames: ['endpoint', 'model'], buckets: ITL_BUCKETS, registers });
    this.#overhead = new client.Histogram({ name: 'sluice_overhead_seconds', help: "Sluice's own time on a request answered at the first attempt: arrival to the upstream request written, less the client's upload of the body, plus upstream response headers to the client's.", labelNames: ['endpoint'], buckets: OVERHEAD_BUCKETS, registers, enableExemplars: true });
    this.#retries = new client.Counter({ name: 'sluice_retries_total', help: 'Attempts that failed over from this endpoint to another.', labelNames: ['endpoint', 'reason'], registers });
    this.#tokens = new client.Counter({ name: 'sluice_tokens_total', help: 'Tokens reported by backends (OpenAI and Anthropic usage, Ollama eval counts).', labelNames: ['endpoint', 'model', 'type'], registers });
    this.#loadScrapes = new client.Counter({ name: 'sluice_load_scrapes_total', help: 'Reads of the endpoints\' own load by result.', labelNames: ['endpoint', 'result'], registers });
    this.#routeDecisions = new client.Counter({ name: 'sluice_route_decisions_total', help: 'Routing decisions by chosen endpoint and reason.', labelNames: ['endpoint', 'reason'], registers });
    this.#prefixLookups = new client.Counter({ name: 'sluice_prefix_index_lookups_total', help: 'Prefix-aware lookups by result: hit (an endpoint is known to hold the prompt\'s first block) or miss.', labelNames: ['result'], registers });
    this.#prefixHits = this.#prefixLookups.labels('hit');
    this.#prefixMisses = this.#prefixLookups.labels('miss');
    this.#prefixHits.inc(0);
    this.#prefixMisses.inc(0);
    this.#ownerLookups = new client.Counter({ name: 'sluice_stored_response_lookups_total', help: 'Look-ups of the endpoint that stores the response a Responses API follow-up names, by result: found (in this process), found_shared (in the replicas\' Redis), unknown (routed as any request), error (Redis could not answer).', labelNames: ['result'], registers });
    for (const result of OWNER_LOOKUPS) this.#ownerLookups.inc({ result }, 0);
    this.#configReloads = new client.Counter({ name: 'sluice_config_reloads_total', help: 'Configuration reloads by result.', labelNames: ['result'], registers });
    this.#shutdownCut = new client.Counter({ name: 'sluice_shutdown_cut_requests_total', help: 'Requests and streams still running when the shutdown grace period ended, and cut.', registers });
    // Series that exist from the start, so that rate() and alerts see a zero rather than nothing.
    this.#configReloads.inc({ result: 'success' }, 0);
    this.#configReloads.inc({ result: 'failure' }, 0);

    client.collectDefaultMetrics({ register: this.openMetricsRegistry, ...(build.processLabel === undefined ? {} : { labels: { worker: build.processLabel } }) });
    // The classic-format registry shares the very same metric objects (exemplars are dropped when rendered).
    for (const { name } of this.openMetricsRegistry.getMetricsAsArray()) this.textRegistry.registerMetric(this.openMetricsRegistry.getSingleMetric(name)!);
  }

  /** Pre-creates the per-endpoint counter series at zero so dashboards and alerts see them before the first event. */
  initEndpoint(endpoint: string): void {
    for (const result of ['success', 'failure', 'timeout'] as const) this.#checks.inc({ endpoint, result }, 0);
    for (const reason of ROUTE_REASONS) this.#routeDecisions.inc({ endpoint, reason }, 0);
    // Every transition the state machine can make (no state is re-entered, and none leads back
    // to unknown) exists at 0, so increase() sees an endpoint's first transition too.
    for (const from of HEALTH_STATES) {
      for (const to of HEALTH_STATES) if (to !== from && to !== 'unknown') this.#transitions.inc({ endpoint, from, to }, 0);
    }
    for (const reason of FAILURE_REASONS) {
      this.#failures.inc({ endpoint, reason }, 0);
      this.#retries.inc({ endpoint, reason }, 0);
    }
  }

  /** Pre-creates an endpoint's load-scrape series (endpoints with a load source). */
  initLoadSource(endpoint: string): void {
    for (const result of ['success', 'failure', 'timeout'] as const) this.#loadScrapes.inc({ endpoint, result }, 0);
  }

  loadScrape(endpoint: string, result: CheckResult): void {
    this.#loadScrapes.inc({ endpoint, result });
  }

  routeDecision(endpoint: string, reason: RouteReason, prefixHit: boolean | undefined): void {
    let routes = this.#routeSeries.get(endpoint);
    if (!routes) this.#routeSeries.set(endpoint, (routes = new Map()));
    let decisions = routes.get(reason);
    if (!decisions) routes.set(reason, (decisions = new BoundCounter(this.#routeDecisions, { endpoint, reason })));
    decisions.inc();
    if (prefixHit !== undefined) (prefixHit ? this.#prefixHits : this.#prefixMisses).inc();
  }

  /** A look-up of a stored response's owner (see OWNER_LOOKUPS). */
  storedResponseLookup(result: OwnerLookup): void {
    this.#ownerLookups.inc({ result });
  }

  /**
   * Deletes every series of an endpoint that left the fleet and has drained, so that
   * cardinality follows the fleet. Gauges need nothing: they are computed from the live set.
   */
  async removeEndpoint(endpoint: string): Promise<void> {
    // Resolved series would keep writing into the deleted ones: resolve them again if it returns.
    this.#seriesCache.delete(endpoint);
    this.#routeSeries.delete(endpoint);
    await this.#removeSeries('endpoint', endpoint);
  }

  /**
   * Deletes every series of a model no endpoint lists any longer (retired), so that cardinality
   * follows what the fleet serves: backends that load and drop adapters or pull models over time
   * do not pile up series.
   */
  async removeModel(model: string): Promise<void> {
    for (const byModel of this.#seriesCache.values()) byModel.delete(model);
    await this.#removeSeries('model', model);
  }

  /** Deletes the series of every event metric (counter, histogram) whose `label` is `value`. */
  async #removeSeries(label: 'endpoint' | 'model', value: string): Promise<void> {
    // Every event metric with the label, whoever registered it: no hand-kept list to forget one in.
    // prom-client types the registry's entries loosely; they are the metric objects themselves.
    const metrics = (this.openMetricsRegistry.getMetricsAsArray() as unknown[]).filter((m): m is client.Counter<string> | client.Histogram<string> => m instanceof client.Counter || m instanceof client.Histogram);
    for (const metric of metrics) {
      const done = new Set<string>();
      for (const { labels } of (await metric.get()).values) {
        if (labels[label] !== value) continue;
        const { le: _bucket, ...series } = labels;
        const key = JSON.stringify(series);
        if (done.has(key)) continue;
        done.add(key);
        metric.remove(series as client.LabelValues<string>);
      }
    }
  }

  shutdownCut(count: number): void {
    this.#shutdownCut.inc(count);
  }

  requestCompleted(o: RequestObservation): void {
    const series = this.#requestSeries(o.endpoint, o.model);
    let requests = series.requests.get(o.code);
    if (!requests) series.requests.set(o.code, (requests = new BoundCounter(this.#requests, { endpoint: o.endpoint, model: o.model, code: String(o.code) })));
    requests.inc();
    // The series resolved once per endpoint and model: no label hashing, with or without an exemplar.
    series.duration[streamLabel(o.streamed === true)].observe(o.durationSeconds, o.traceId);
    if (o.ttfbSeconds !== undefined) series.ttfb.observe(o.ttfbSeconds, o.traceId);
    if (o.ttft !== undefined) series.ttft[streamLabel(o.ttft.streamed)].observe(o.ttft.seconds, o.traceId);
    if (o.overheadSeconds !== undefined) series.overhead.observe(o.overheadSeconds, o.traceId);
    if (o.firstTokenMissed) series.firstTokenMissed.inc();
  }

  /** The request series by endpoint, then model, resolved once (labels are bounded, so are these maps); no key is built per lookup. */
  readonly #seriesCache = new Map<string, Map<string, RequestSeries>>();
  /** The route decision series of each endpoint by reason, resolved once (both labels are bounded). */
  readonly #routeSeries = new Map<string, Map<RouteReason, BoundCounter>>();
  readonly #prefixHits: client.Counter.Internal;
  readonly #prefixMisses: client.Counter.Internal;

  #requestSeries(endpoint: string, model: string): RequestSeries {
    let byModel = this.#seriesCache.get(endpoint);
    if (!byModel) this.#seriesCache.set(endpoint, (byModel = new Map()));
    let series = byModel.get(model);
    if (!series) {
      series = {
        requests: new Map(),
        // Bound, not created: a series appears with its first observation.
        duration: byStream(this.#requestDuration, endpoint, model),
        ttfb: new BoundHistogram(this.#ttfb, { endpoint, model }),
        ttft: byStream(this.#ttft, endpoint, model),
        overhead: new BoundHistogram(this.#overhead, { endpoint }),
        firstTokenMissed: new BoundCounter(this.#firstTokenMissed, { endpoint, model }),
        itl: new BoundHistogram(this.#itl, { endpoint, model }),
        inputTokens: new BoundCounter(this.#tokens, { endpoint, model, type: 'input' }),
        outputTokens: new BoundCounter(this.#tokens, { endpoint, model, type: 'output' }),
      };
      byModel.set(model, series);
    }
    return series;
  }

  /** The inter-token latency series of one endpoint and model (labels resolved once, then one observation per gap). */
  interTokenLatency(endpoint: string, model: string): GapObserver {
    return this.#requestSeries(endpoint, model).itl;
  }

  attemptFailed(endpoint: string, reason: FailureReason, retried: boolean): void {
    this.#failures.inc({ endpoint, reason });
    if (retried) this.#retries.inc({ endpoint, reason });
  }

  tokens(endpoint: string, model: string, input: number | undefined, output: number | undefined): void {
    if (!input && !output) return;
    const series = this.#requestSeries(endpoint, model);
    if (input) series.inputTokens.inc(input);
    if (output) series.outputTokens.inc(output);
  }

  healthCheck(endpoint: string, result: CheckResult, durationSeconds: number): void {
    this.#checks.inc({ endpoint, result });
    this.#checkDuration.observe({ endpoint }, durationSeconds);
  }

  stateTransition(endpoint: string, from: string, to: string): void {
    this.#transitions.inc({ endpoint, from, to });
  }

  configReload(result: 'success' | 'failure'): void {
    this.#configReloads.inc({ result });
  }

  /** This process's metrics as prom-client JSON, for a merge across a cluster. */
  json(): Promise<unknown[]> {
    return this.openMetricsRegistry.getMetricsAsJSON();
  }

  /**
   * Renders for a scraper: OpenMetrics (with exemplars) when the Accept header asks for it. In a
   * cluster worker, the merge of every process (exemplars do not survive a merge).
   */
  render(accept: string | undefined): Promise<RenderedMetrics> {
    const openMetrics = accept?.includes('application/openmetrics-text') ?? false;
    if (this.#renderMerged) return this.#renderMerged(openMetrics);
    // Renders run one at a time: see #renderNow.
    const result = this.#renderChain.then(() => this.#renderNow(openMetrics));
    this.#renderChain = result.catch(() => undefined);
    return result;
  }

  #renderChain: Promise<unknown> = Promise.resolve();

  async #renderNow(openMetrics: boolean): Promise<RenderedMetrics> {
    if (openMetrics) return { contentType: this.openMetricsRegistry.contentType, body: await this.openMetricsRegistry.metrics() };
    // prom-client's OpenMetrics rendering renames counters in place (drops `_total`, which
    // OpenMetrics adds back per sample). The classic format needs the full name again.
    for (const metric of this.textRegistry.getMetricsAsArray()) {
      // prom-client types `type` as a numeric enum; at run time it is the string.
      if ((metric.type as unknown as string) === 'counter' && !metric.name.endsWith('_total')) (metric as { name: string }).name = `${metric.name}_total`;
    }
    return { contentType: this.textRegistry.contentType, body: await this.textRegistry.metrics() };
  }
}
