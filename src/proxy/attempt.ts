import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { context, propagation, trace, SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import type { SluiceConfig } from '../config/index.js';
import type { Endpoint } from '../endpoints/index.js';
import type { FailureReason, Logger, SluiceMetrics } from '../telemetry/index.js';
import type { RequestState } from './request-state.js';
import type { StreamOutcome } from './stream-response.js';
import type { AttemptResult, Upstream } from './upstream.js';

const tracer = trace.getTracer('sluice');

export interface AttemptDeps {
  readonly config: SluiceConfig;
  readonly metrics: SluiceMetrics;
  readonly logger: Logger;
  /** The proxy (agent, timeouts) of an endpoint; owned by the caller so it can outlive a reload. */
  readonly upstreamFor: (endpoint: Endpoint) => Upstream;
}

/** How an attempt ended before anything reached the client. */
export type AttemptVerdict =
  | { readonly kind: 'retry' }
  | { readonly kind: 'client_gone' }
  | { readonly kind: 'response'; readonly proxyRes: IncomingMessage; readonly proxyReq: ClientRequest; readonly status: number; readonly ttfbMs: number };

/**
 * One attempt on one endpoint: holds its connection slot and span, sends the request, and
 * feeds the endpoint's breaker and health with what the backend did.
 */
export class Attempt {
  readonly endpoint: Endpoint;
  readonly span: Span;
  readonly #deps: AttemptDeps;
  readonly #state: RequestState;
  #released = false;

  constructor(deps: AttemptDeps, state: RequestState, endpoint: Endpoint) {
    this.#deps = deps;
    this.#state = state;
    this.endpoint = endpoint;
    this.span = startAttemptSpan(state, endpoint);
    endpoint.activeConnections++;
  }

  /** Sends the request; resolves at response headers worth sending on, at a failure, or when the client leaves. */
  async send(req: IncomingMessage, res: ServerResponse, canRetry: () => boolean): Promise<AttemptVerdict> {
    const { config, metrics } = this.#deps;
    const { endpoint, span } = this;
    const state = this.#state;
    const traceHeaders: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), span), traceHeaders);
    let result: AttemptResult;
    try {
      result = await context.with(trace.setSpan(context.active(), span), () =>
        this.#deps.upstreamFor(endpoint).attempt(req, res, { body: state.req.body, requestId: state.req.id, headers: traceHeaders }),
      );
    } catch (err) {
      result = { kind: 'failed', reason: 'connect_error', error: err as Error };
    }

    if (result.kind === 'client_gone') {
      this.release();
      this.#releaseTrial();
      span.setAttribute('error.type', 'client_closed').end();
      return { kind: 'client_gone' };
    }
    if (result.kind === 'failed') {
      this.release();
      this.#recordFailure(result.reason, result.error.message);
      state.lastFailure = { reason: result.reason, error: result.error };
      const retry = canRetry();
      metrics.attemptFailed(endpoint.name, result.reason, retry);
      span.setAttribute('error.type', result.reason).setStatus({ code: SpanStatusCode.ERROR, message: result.error.message }).end();
      this.#deps.logger.debug('attempt failed', { request_id: state.req.id, endpoint: endpoint.name, attempt: state.attempts, reason: result.reason, error: result.error.message, retry });
      return { kind: 'retry' };
    }

    const { proxyRes, proxyReq } = result;
    const status = proxyRes.statusCode ?? 502;
    const ttfbMs = performance.now() - state.req.startedAt;
    if (status === 429) endpoint.coolDown(retryAfterMs(proxyRes.headers['retry-after']));
    const retryable = config.proxy.retry_on_status.includes(status);
    if (retryable && canRetry()) {
      proxyRes.resume(); // drain so the keep-alive socket can be reused
      this.release();
      const reason: FailureReason = status === 429 ? 'http_429' : 'http_5xx';
      this.#recordFailure(reason, `HTTP ${status}`, status);
      state.lastFailure = { reason, error: new Error(`HTTP ${status}`) };
      metrics.attemptFailed(endpoint.name, reason, true);
      span.setAttribute('http.response.status_code', status).setAttribute('error.type', String(status)).setStatus({ code: SpanStatusCode.ERROR }).end();
      return { kind: 'retry' };
    }
    return { kind: 'response', proxyRes, proxyReq, status, ttfbMs };
  }

  /** Gives the endpoint's connection slot back (once). */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.endpoint.activeConnections--;
  }

  /** Feeds the endpoint with how a response that reached the client ended. */
  recordResponse(status: number, streamed: StreamOutcome): void {
    const { endpoint } = this;
    const { metrics } = this.#deps;
    if (streamed.outcome === 'complete') {
      if (status >= 500) this.#recordFailure('http_5xx', `HTTP ${status}`, status);
      else if (status === 429) this.#recordFailure('http_429', 'HTTP 429', status);
      else {
        endpoint.breaker.recordSuccess();
        endpoint.health.recordRequest('success');
      }
      if (status >= 500 || status === 429) metrics.attemptFailed(endpoint.name, status === 429 ? 'http_429' : 'http_5xx', false);
    } else if (streamed.outcome === 'upstream_failed') {
      const reason: FailureReason = streamed.timedOut ? 'timeout' : 'reset';
      this.#recordFailure(reason, streamed.timedOut ? 'idle timeout mid-stream' : 'backend closed mid-stream');
      metrics.attemptFailed(endpoint.name, reason, false);
    } else {
      this.#releaseTrial();
    }
  }

  /** Feeds a failed attempt to the endpoint's breaker and health; refused/reset connections mark it unhealthy at once. */
  #recordFailure(reason: FailureReason, message: string, status?: number): void {
    const { endpoint } = this;
    const countsForBreaker = status === undefined || (status >= 500 ? this.#deps.config.breaker.count_5xx : false);
    if (countsForBreaker) endpoint.breaker.recordFailure();
    else this.#releaseTrial();
    if (reason === 'connect_error' || reason === 'reset') endpoint.health.markConnectionFailure(message);
    endpoint.health.recordRequest('failure');
  }

  /** An attempt that ended with no verdict gives the half-open trial back, if it held it. */
  #releaseTrial(): void {
    if (this.#state.trialOf !== this.endpoint) return;
    this.#state.trialOf = undefined;
    this.endpoint.breaker.releaseTrial();
  }
}

function startAttemptSpan(state: RequestState, endpoint: Endpoint): Span {
  const model = state.catalogModel ?? state.req.model;
  return tracer.startSpan(`${state.operation} ${model ?? 'unknown'}`, {
    kind: SpanKind.CLIENT,
    attributes: {
      'gen_ai.operation.name': state.operation,
      ...(model ? { 'gen_ai.request.model': model } : {}),
      'server.address': endpoint.baseUrl.hostname,
      'server.port': Number(endpoint.baseUrl.port || (endpoint.baseUrl.protocol === 'https:' ? 443 : 80)),
      'sluice.endpoint': endpoint.name,
      'sluice.attempt': state.attempts,
    },
  });
}

/** Retry-After in seconds or as an HTTP date; 1 s when absent or unreadable, capped at 5 minutes. */
function retryAfterMs(header: string | undefined): number {
  if (!header) return 1000;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, 300_000) : 1000;
}
