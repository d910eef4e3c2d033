import type { IncomingMessage } from 'node:http';
import { SpanStatusCode, type Span } from '@opentelemetry/api';
import type { RouteDecision } from '../balancing/index.js';
import type { SluiceConfig } from '../config/index.js';
import type { Endpoint } from '../endpoints/index.js';
import { wasCutAtShutdown } from '../server/index.js';
import { AccessLog, logsAt, modelOutcome, recordServerOutcome, routeAttributes, sampledTraceId, traceIds, type Logger, type ModelStats, type SluiceMetrics } from '../telemetry/index.js';
import { CLIENT_CLOSED, type RequestState } from './request-state.js';
import type { StreamOutcome } from './stream-response.js';
import type { Usage } from './usage-tap.js';

/** The status a request cut at shutdown is recorded with: Sluice could not finish it (503). */
const SHUTDOWN_CUT = 503;

export interface ObserverDeps {
  readonly config: SluiceConfig;
  readonly metrics: SluiceMetrics;
  readonly modelStats: ModelStats;
  /**
   * The model label a request's observations go under now: a model retired while the request
   * was in flight has lost its series, and they go under `unknown` (see ModelSeries).
   */
  readonly currentLabel?: (label: string) => string;
  readonly logger: Logger;
}

/** How a client request ended, as metrics, model stats and the access log record it. */
export interface RequestEnd {
  readonly endpoint: Endpoint | undefined;
  readonly code: number;
  readonly ttfbMs?: number;
  /**
   * Arrival to the first token, and whether the response was streamed (SSE or NDJSON), which
   * decides what that is: the first chunk with content, or the end of the body (see TokenTiming).
   */
  readonly ttft?: { readonly ms: number; readonly streamed: boolean };
  readonly overheadMs?: number;
  /** See RequestObservation.firstTokenMissed. */
  readonly firstTokenMissed?: boolean;
  /** The answer was a stream (SSE or NDJSON), as its content type says. */
  readonly streamed?: boolean;
  readonly bytes: number;
  readonly usage: Usage;
  readonly error?: string;
}

/** Records every finished client request once: metrics, model stats and the access log. */
export class RequestObserver {
  readonly #deps: ObserverDeps;
  readonly #accessLog: AccessLog;

  constructor(deps: ObserverDeps) {
    this.#deps = deps;
    this.#accessLog = new AccessLog(deps.logger);
  }

  /** Records how an attempt's endpoint was chosen: decision counter, the attempt's span, a debug line. */
  routed(state: RequestState, decision: RouteDecision<Endpoint>, span: Span): void {
    this.#deps.metrics.routeDecision(decision.endpoint.name, decision.reason, decision.prefixHit);
    const debug = logsAt(this.#deps.logger, 'debug');
    // Formatting the scores costs something per request: only for a span that records, or a debug log.
    if (!span.isRecording() && !debug) return;
    const attributes = routeAttributes(decision);
    span.setAttributes(attributes);
    if (debug) {
      this.#deps.logger.debug('route', { request_id: state.req.id, ...traceIds(state.req.traceContext), endpoint: decision.endpoint.name, attempt: state.attempts, ...attributes });
    }
  }

  finish(req: Pick<IncomingMessage, 'method' | 'url'>, state: RequestState, end: RequestEnd): void {
    // A request cut when the shutdown grace period ended: its client did not leave, and its endpoint did not fail it.
    const { endpoint, code, ttfbMs, ttft, overheadMs, firstTokenMissed, streamed, bytes, usage, error } = end.code === CLIENT_CLOSED && wasCutAtShutdown(req) ? { ...end, endpoint: undefined, code: SHUTDOWN_CUT, error: 'shutdown_cut' } : end;
    const durationMs = performance.now() - state.req.startedAt;
    const { trace_id: traceId, span_id: spanId } = traceIds(state.req.traceContext);
    const endpointLabel = endpoint?.name ?? 'none';
    const model = this.#deps.currentLabel?.(state.modelLabel) ?? state.modelLabel;
    this.#deps.metrics.requestCompleted({
      endpoint: endpointLabel,
      model,
      code,
      durationSeconds: durationMs / 1000,
      streamed,
      ttfbSeconds: ttfbMs === undefined ? undefined : ttfbMs / 1000,
      ttft: ttft === undefined ? undefined : { seconds: ttft.ms / 1000, streamed: ttft.streamed },
      overheadSeconds: overheadMs === undefined ? undefined : overheadMs / 1000,
      firstTokenMissed,
      // An exemplar points at a trace that can be looked up: only a sampled one (the log line keeps any trace id).
      traceId: traceId === undefined ? undefined : sampledTraceId(state.req.traceContext),
    });
    if (endpoint) this.#deps.metrics.tokens(endpoint.name, model, usage.inputTokens, usage.outputTokens);
    recordServerOutcome(state.req.traceContext, code, error);
    this.#deps.modelStats.record(model, modelOutcome(code, endpoint !== undefined), durationMs);
    if (this.#deps.config.logging.access_log) {
      this.#accessLog.write({
        request_id: state.req.id,
        trace_id: traceId,
        span_id: spanId,
        method: req.method,
        path: req.url,
        model: state.req.model === undefined ? undefined : state.modelLabel,
        endpoint: endpointLabel,
        status: code,
        attempts: state.attempts,
        duration_ms: round(durationMs),
        ttfb_ms: ttfbMs === undefined ? undefined : round(ttfbMs),
        ttft_ms: ttft === undefined ? undefined : round(ttft.ms),
        bytes,
        error,
      });
    }
  }
}

/** Puts what the response said (usage, status, how the stream ended) on the attempt's span and ends it. */
export function endResponseSpan(span: Span, status: number, streamed: StreamOutcome['outcome'] | 'stream_error', usage: Usage): void {
  if (usage.inputTokens !== undefined) span.setAttribute('gen_ai.usage.input_tokens', usage.inputTokens);
  if (usage.outputTokens !== undefined) span.setAttribute('gen_ai.usage.output_tokens', usage.outputTokens);
  if (usage.responseModel) span.setAttribute('gen_ai.response.model', usage.responseModel);
  span.setAttribute('http.response.status_code', status);
  if (streamed !== 'complete') span.setAttribute('error.type', streamed).setStatus({ code: SpanStatusCode.ERROR });
  else if (status >= 500) span.setAttribute('error.type', String(status)).setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
