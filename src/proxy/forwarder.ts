import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { context, propagation, trace, SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import type { Selector } from '../balancing/index.js';
import type { SluiceConfig } from '../config/index.js';
import type { ModelCatalog } from '../discovery/index.js';
import type { Endpoint } from '../endpoints/index.js';
import type { FailureReason, SluiceMetrics, ModelStats, Logger } from '../telemetry/index.js';
import { apiFlavour, sendError, SluiceError, type ApiFlavour } from './errors.js';
import { responseHeaders } from './headers.js';
import { stickyKey, type StickyKeySource } from './sticky-key.js';
import type { AttemptResult, Upstream } from './upstream.js';
import { UsageTap, type Usage } from './usage-tap.js';

const tracer = trace.getTracer('sluice');

export interface ForwarderDeps {
  readonly config: SluiceConfig;
  readonly endpoints: readonly Endpoint[];
  readonly catalog: ModelCatalog;
  readonly selector: Selector;
  readonly sticky: StickyKeySource | undefined;
  readonly metrics: SluiceMetrics;
  readonly modelStats: ModelStats;
  readonly logger: Logger;
  /** Seconds a client should wait when nothing is routable (from the next health check). */
  readonly retryAfterSeconds: () => number;
  /** The proxy (agent, timeouts) of an endpoint; owned by the caller so it can outlive a reload. */
  readonly upstreamFor: (endpoint: Endpoint) => Upstream;
}

/** A client request once its body has been read; what every attempt replays. */
export interface ProxiedRequest {
  readonly id: string;
  readonly startedAt: number; // performance.now()
  readonly body: Buffer;
  readonly model: string | undefined; // as the client named it
}

interface RequestState {
  readonly req: ProxiedRequest;
  readonly flavour: ApiFlavour;
  readonly catalogModel: string | undefined;
  readonly modelLabel: string;
  readonly operation: string;
  readonly tried: Set<string>;
  attempts: number;
  lastFailure?: { reason: FailureReason; error: Error };
  /** The endpoint whose half-open trial this request holds, if any: only it may release the trial. */
  trialOf?: Endpoint;
}

/** HTTP statuses that end a stream as the client sees it: 499 = client closed (nginx's convention). */
const CLIENT_CLOSED = 499;

/**
 * The request path: choose an endpoint, run one attempt, and on a failure that happened
 * before anything reached the client, try another endpoint; then stream the response.
 */
export class Forwarder {
  readonly #deps: ForwarderDeps;

  constructor(deps: ForwarderDeps) {
    this.#deps = deps;
  }

  async handle(req: IncomingMessage, res: ServerResponse, preq: ProxiedRequest): Promise<void> {
    const path = req.url ?? '/';
    const flavour = apiFlavour(path);
    const catalogModel = preq.model === undefined ? undefined : this.#deps.catalog.resolve(preq.model);
    const state: RequestState = {
      req: preq,
      flavour,
      catalogModel,
      modelLabel: this.#deps.catalog.metricLabel(preq.model),
      operation: operationName(path),
      tried: new Set(),
      attempts: 0,
    };
    res.setHeader('x-sluice-request-id', preq.id);
    if (preq.model !== undefined && catalogModel === undefined) {
      const message = flavour === 'ollama' ? `model '${preq.model}' not found` : `The model '${preq.model}' does not exist or is not served by any endpoint`;
      return this.#fail(req, res, state, new SluiceError('model_not_found', message));
    }
    const pool = catalogModel === undefined ? this.#deps.endpoints : this.#deps.catalog.endpointsFor(catalogModel);
    const sticky = this.#deps.sticky ? stickyKey(this.#deps.sticky, req) : undefined;
    const maxAttempts = this.#deps.config.proxy.retries + 1;

    while (state.attempts < maxAttempts) {
      const choice = this.#choose(pool, state, sticky);
      if (typeof choice === 'string') return this.#fail(req, res, state, this.#noEndpointError(state, choice, preq.model));
      const endpoint = choice;
      state.tried.add(endpoint.name);
      state.attempts++;
      const outcome = await this.#attempt(req, res, state, endpoint, () => state.attempts < maxAttempts && this.#hasCandidate(pool, state));
      if (outcome === 'done') return;
    }
    return this.#fail(req, res, state, this.#noEndpointError(state, 'none', preq.model));
  }

  /** Picks a routable endpoint that has not been tried, honouring caps and the breaker's half-open trial. */
  #choose(pool: readonly Endpoint[], state: RequestState, sticky: string | undefined): Endpoint | 'none' | 'busy' {
    let candidates = pool.filter((ep) => !state.tried.has(ep.name) && ep.routable);
    if (candidates.length === 0) return 'none';
    candidates = candidates.filter((ep) => !ep.atCapacity);
    if (candidates.length === 0) return 'busy';
    while (candidates.length > 0) {
      const picked = this.#deps.selector.select(candidates, sticky === undefined ? undefined : { stickyKey: sticky });
      if (!picked) return 'none';
      const halfOpen = picked.breaker.state === 'half_open';
      if (picked.breaker.tryAcquire()) {
        if (halfOpen) state.trialOf = picked;
        return picked;
      }
      // Its half-open trial is taken by another request: leave it out of this pick.
      candidates = candidates.filter((ep) => ep !== picked);
    }
    return 'none';
  }

  #hasCandidate(pool: readonly Endpoint[], state: RequestState): boolean {
    return pool.some((ep) => !state.tried.has(ep.name) && ep.routable && !ep.atCapacity);
  }

  #noEndpointError(state: RequestState, why: 'none' | 'busy', model: string | undefined): SluiceError {
    const last = state.lastFailure;
    if (last) {
      const code = last.reason === 'timeout' ? 'upstream_timeout' : 'upstream_unreachable';
      return new SluiceError(code, `all attempts failed (${state.attempts}); last: ${last.reason}: ${last.error.message}`);
    }
    if (why === 'busy') return new SluiceError('endpoints_busy', 'every endpoint is at its connection limit', { retryAfterSeconds: 1 });
    const scope = model === undefined ? '' : ` serves model '${model}'`;
    return new SluiceError('no_routable_endpoint', `no routable endpoint${scope || ' is available'}`, { retryAfterSeconds: this.#deps.retryAfterSeconds() });
  }

  /** One attempt. Returns 'done' when the client has its answer (or is gone), 'retry' to try another endpoint. */
  async #attempt(req: IncomingMessage, res: ServerResponse, state: RequestState, endpoint: Endpoint, canRetry: () => boolean): Promise<'done' | 'retry'> {
    const { metrics, config } = this.#deps;
    const span = this.#startAttemptSpan(state, endpoint);
    const traceHeaders: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), span), traceHeaders);
    endpoint.activeConnections++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      endpoint.activeConnections--;
    };
    let result: AttemptResult;
    try {
      result = await context.with(trace.setSpan(context.active(), span), () =>
        this.#deps.upstreamFor(endpoint).attempt(req, res, { body: state.req.body, requestId: state.req.id, headers: traceHeaders }),
      );
    } catch (err) {
      result = { kind: 'failed', reason: 'connect_error', error: err as Error };
    }

    if (result.kind === 'client_gone') {
      release();
      this.#releaseTrial(state, endpoint);
      span.setAttribute('error.type', 'client_closed').end();
      this.#finish(req, state, endpoint, CLIENT_CLOSED, undefined, 0, {});
      return 'done';
    }
    if (result.kind === 'failed') {
      release();
      this.#recordFailure(state, endpoint, result.reason, result.error.message);
      state.lastFailure = { reason: result.reason, error: result.error };
      const retry = canRetry();
      metrics.attemptFailed(endpoint.name, result.reason, retry);
      span.setAttribute('error.type', result.reason).setStatus({ code: SpanStatusCode.ERROR, message: result.error.message }).end();
      this.#deps.logger.debug('attempt failed', { request_id: state.req.id, endpoint: endpoint.name, attempt: state.attempts, reason: result.reason, error: result.error.message, retry });
      return 'retry';
    }

    const { proxyRes, proxyReq } = result;
    const status = proxyRes.statusCode ?? 502;
    const ttfbMs = performance.now() - state.req.startedAt;
    if (status === 429) endpoint.coolDown(retryAfterMs(proxyRes.headers['retry-after']));
    const retryable = config.proxy.retry_on_status.includes(status);
    if (retryable && canRetry()) {
      proxyRes.resume(); // drain so the keep-alive socket can be reused
      release();
      const reason: FailureReason = status === 429 ? 'http_429' : 'http_5xx';
      this.#recordFailure(state, endpoint, reason, `HTTP ${status}`, status);
      state.lastFailure = { reason, error: new Error(`HTTP ${status}`) };
      metrics.attemptFailed(endpoint.name, reason, true);
      span.setAttribute('http.response.status_code', status).setAttribute('error.type', String(status)).setStatus({ code: SpanStatusCode.ERROR }).end();
      return 'retry';
    }

    // Commit: from here on the client has bytes, and a failure can only cut the stream.
    res.setHeader('x-sluice-endpoint', endpoint.name);
    res.setHeader('x-sluice-attempts', String(state.attempts));
    res.writeHead(status, responseHeaders(proxyRes.headers));
    const tap = new UsageTap();
    const streamed = await pipeResponse(proxyRes, res, proxyReq, config.proxy.idle_timeout, tap);
    release();
    const usage = tap.result();
    if (streamed.outcome === 'complete') {
      if (status >= 500) this.#recordFailure(state, endpoint, 'http_5xx', `HTTP ${status}`, status);
      else if (status === 429) this.#recordFailure(state, endpoint, 'http_429', 'HTTP 429', status);
      else {
        endpoint.breaker.recordSuccess();
        endpoint.health.recordRequest('success');
      }
      if (status >= 500 || status === 429) metrics.attemptFailed(endpoint.name, status === 429 ? 'http_429' : 'http_5xx', false);
    } else if (streamed.outcome === 'upstream_failed') {
      const reason: FailureReason = streamed.timedOut ? 'timeout' : 'reset';
      this.#recordFailure(state, endpoint, reason, streamed.timedOut ? 'idle timeout mid-stream' : 'backend closed mid-stream');
      metrics.attemptFailed(endpoint.name, reason, false);
    } else {
      this.#releaseTrial(state, endpoint);
    }
    if (usage.inputTokens !== undefined) span.setAttribute('gen_ai.usage.input_tokens', usage.inputTokens);
    if (usage.outputTokens !== undefined) span.setAttribute('gen_ai.usage.output_tokens', usage.outputTokens);
    if (usage.responseModel) span.setAttribute('gen_ai.response.model', usage.responseModel);
    span.setAttribute('http.response.status_code', status);
    if (streamed.outcome !== 'complete') span.setAttribute('error.type', streamed.outcome).setStatus({ code: SpanStatusCode.ERROR });
    else if (status >= 500) span.setAttribute('error.type', String(status)).setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    const code = streamed.outcome === 'client_gone' ? CLIENT_CLOSED : status;
    this.#finish(req, state, endpoint, code, ttfbMs, streamed.bytes, usage);
    return 'done';
  }

  /** Feeds a failed attempt to the endpoint's breaker and health; refused/reset connections mark it unhealthy at once. */
  #recordFailure(state: RequestState, endpoint: Endpoint, reason: FailureReason, message: string, status?: number): void {
    const countsForBreaker = status === undefined || (status >= 500 ? this.#deps.config.breaker.count_5xx : false);
    if (countsForBreaker) endpoint.breaker.recordFailure();
    else this.#releaseTrial(state, endpoint);
    if (reason === 'connect_error' || reason === 'reset') endpoint.health.markConnectionFailure(message);
    endpoint.health.recordRequest('failure');
  }

  /** An attempt that ended with no verdict gives the half-open trial back, if it held it. */
  #releaseTrial(state: RequestState, endpoint: Endpoint): void {
    if (state.trialOf !== endpoint) return;
    state.trialOf = undefined;
    endpoint.breaker.releaseTrial();
  }

  #startAttemptSpan(state: RequestState, endpoint: Endpoint): Span {
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

  /** Answers a request that failed before routing (bad body) and still counts and logs it. */
  reject(req: IncomingMessage, res: ServerResponse, preq: ProxiedRequest, err: SluiceError): void {
    const path = req.url ?? '/';
    res.setHeader('x-sluice-request-id', preq.id);
    const state: RequestState = { req: preq, flavour: apiFlavour(path), catalogModel: undefined, modelLabel: 'none', operation: operationName(path), tried: new Set(), attempts: 0 };
    this.#fail(req, res, state, err);
  }

  #fail(req: IncomingMessage, res: ServerResponse, state: RequestState, err: SluiceError): void {
    res.setHeader('x-sluice-attempts', String(state.attempts));
    sendError(req, res, err);
    this.#finish(req, state, undefined, err.status, undefined, 0, {}, err.code);
  }

  #finish(req: IncomingMessage, state: RequestState, endpoint: Endpoint | undefined, code: number, ttfbMs: number | undefined, bytes: number, usage: Usage, error?: string): void {
    const durationMs = performance.now() - state.req.startedAt;
    const spanContext = trace.getActiveSpan()?.spanContext();
    const traceId = spanContext && trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
    const endpointLabel = endpoint?.name ?? 'none';
    this.#deps.metrics.requestCompleted({
      endpoint: endpointLabel,
      model: state.modelLabel,
      code,
      durationSeconds: durationMs / 1000,
      ttfbSeconds: ttfbMs === undefined ? undefined : ttfbMs / 1000,
      traceId,
    });
    if (endpoint) this.#deps.metrics.tokens(endpoint.name, state.modelLabel, usage.inputTokens, usage.outputTokens);
    this.#deps.modelStats.record(state.modelLabel, code < 500 && code !== CLIENT_CLOSED, durationMs);
    if (this.#deps.config.logging.access_log) {
      this.#deps.logger.info('request', {
        request_id: state.req.id,
        trace_id: traceId,
        span_id: traceId ? spanContext!.spanId : undefined,
        method: req.method,
        path: req.url,
        model: state.req.model === undefined ? undefined : state.modelLabel,
        endpoint: endpointLabel,
        status: code,
        attempts: state.attempts,
        duration_ms: round(durationMs),
        ttfb_ms: ttfbMs === undefined ? undefined : round(ttfbMs),
        bytes,
        ...(error ? { error } : {}),
      });
    }
  }
}

type StreamOutcome = { outcome: 'complete' | 'upstream_failed' | 'client_gone'; bytes: number; timedOut: boolean };

/**
 * Streams the backend's body to the client chunk by chunk (no buffering: SSE and NDJSON
 * tokens reach the client as the backend sends them). If the backend dies or stalls past the
 * idle timeout, the client's connection is destroyed so it sees an error instead of hanging;
 * if the client leaves, the upstream request is cancelled so the model stops generating.
 */
function pipeResponse(proxyRes: IncomingMessage, res: ServerResponse, proxyReq: ClientRequest, idleMs: number, tap: UsageTap): Promise<StreamOutcome> {
  return new Promise((resolve) => {
    let bytes = 0;
    let done = false;
    let timedOut = false;
    const finish = (outcome: StreamOutcome['outcome']) => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      resolve({ outcome, bytes, timedOut });
    };
    const idle = setTimeout(() => {
      timedOut = true;
      proxyRes.destroy(new Error('idle timeout'));
    }, idleMs);
    proxyRes.on('data', (chunk: Buffer) => {
      idle.refresh();
      bytes += chunk.length;
      tap.push(chunk);
      if (!res.write(chunk)) {
        proxyRes.pause();
        res.once('drain', () => proxyRes.resume());
      }
    });
    proxyRes.on('end', () => {
      res.end();
      finish('complete');
    });
    proxyRes.on('error', () => undefined); // handled by 'close' below
    proxyRes.on('close', () => {
      if (done || proxyRes.complete) return;
      res.destroy();
      finish(res.writableEnded ? 'complete' : 'upstream_failed');
    });
    res.on('close', () => {
      if (done) return;
      if (res.writableFinished) return finish('complete');
      proxyRes.destroy();
      proxyReq.destroy();
      finish('client_gone');
    });
  });
}

function operationName(path: string): string {
  if (path.startsWith('/v1/chat/completions') || path.startsWith('/api/chat')) return 'chat';
  if (path.startsWith('/v1/completions') || path.startsWith('/api/generate')) return 'text_completion';
  if (path.startsWith('/v1/embeddings') || path.startsWith('/api/embed')) return 'embeddings';
  return 'proxy';
}

/** Retry-After in seconds or as an HTTP date; 1 s when absent or unreadable, capped at 5 minutes. */
function retryAfterMs(header: string | undefined): number {
  if (!header) return 1000;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, 300_000) : 1000;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
