import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { BlockList } from 'node:net';
import { propagation, trace, SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import type { SluiceConfig } from '../config/index.js';
import type { Endpoint } from '../endpoints/index.js';
import type { DispatchTicket, LoadBoard } from '../load/index.js';
import { hasIds, traceIds, type FailureReason, type Logger, type SluiceMetrics } from '../telemetry/index.js';
import { discardForReuse } from './drain.js';
import { FirstTokenDeadline, firstTokenLimit } from './first-token.js';
import { forwardedHeaders } from './headers.js';
import type { RequestState } from './request-state.js';
import type { StreamOutcome } from './stream-response.js';
import type { AttemptResult, Upstream } from './upstream.js';

const tracer = trace.getTracer('sluice');

/** RFC 9110 9.2.2: methods whose repetition has the same effect as one request. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Statuses by which a backend refuses a request without running it: another endpoint may take it. */
const REFUSALS = new Set([429, 503]);

export interface AttemptDeps {
  readonly config: SluiceConfig;
  readonly metrics: SluiceMetrics;
  readonly logger: Logger;
  /** `server.trusted_proxies`: peers whose X-Forwarded-* and Forwarded headers are believed. */
  readonly trustedProxies: BlockList;
  /** The proxy (agent, timeouts) of an endpoint; owned by the caller so it can outlive a reload. */
  readonly upstreamFor: (endpoint: Endpoint) => Upstream;
  readonly load?: LoadBoard;
}

/** How an attempt ended before anything reached the client. */
export type AttemptVerdict =
  | { readonly kind: 'retry' }
  /** The backend failed and the request may not be sent again (it may have run); answer with the failure. */
  | { readonly kind: 'give_up' }
  | { readonly kind: 'client_gone' }
  /** Sluice itself could not forward the request: nothing to hold against the endpoint. */
  | { readonly kind: 'internal'; readonly error: Error }
  | {
      readonly kind: 'response';
      readonly proxyRes: IncomingMessage;
      readonly proxyReq: ClientRequest;
      readonly status: number;
      readonly ttfbMs: number;
      /** performance.now() when the request was flushed to the backend, and when its response headers came. */
      readonly writtenAt: number | undefined;
      readonly receivedAt: number;
    };

/**
 * One attempt on one endpoint: holds its connection slot and span, sends the request, and
 * feeds the endpoint's breaker and health with what the backend did, and only with that:
 * a client that leaves, or Sluice's own failure, says nothing about the backend.
 */
export class Attempt {
  readonly endpoint: Endpoint;
  readonly span: Span;
  readonly #deps: AttemptDeps;
  readonly #state: RequestState;
  readonly #ticket: DispatchTicket | undefined;
  /** The first-token deadline of a streamed request, when one is configured; it runs from here. */
  readonly #deadline: FirstTokenDeadline | undefined;
  #released = false;

  constructor(deps: AttemptDeps, state: RequestState, endpoint: Endpoint) {
    this.#deps = deps;
    this.#state = state;
    this.endpoint = endpoint;
    const limitMs = firstTokenLimit(state.streamRequested, deps.config.proxy.first_token_timeout, endpoint.config.first_token_timeout);
    this.#deadline = limitMs === undefined ? undefined : new FirstTokenDeadline(limitMs, () => performance.now());
    this.span = startAttemptSpan(state, endpoint);
    endpoint.activeConnections++;
    this.#ticket = deps.load?.dispatched(endpoint.name, state.prompt?.tokens ?? 0);
  }

  /** Sends the request; resolves at response headers worth sending on, at a failure, or when the client leaves. */
  async send(req: IncomingMessage, res: ServerResponse, canRetry: () => boolean): Promise<AttemptVerdict> {
    const { config, metrics } = this.#deps;
    const { endpoint, span } = this;
    const state = this.#state;
    let result = await this.#call(req, res, false);
    // A reused connection reset before any response byte: most often the keep-alive race (the
    // backend closed it as idle while Sluice reused it), which is not the backend failing. But the
    // request was written on it, and a backend that died holding it looks the same, so it goes
    // again (once, on a new connection, not held against the endpoint) only if it may be sent
    // twice. Otherwise (a POST without `proxy.retry_non_idempotent`) it is answered with the
    // failure, a reset that does not by itself mark the endpoint down: its next connection will.
    let staleReset = false;
    if (result.kind === 'stale_socket') {
      if (this.#maySendAgain(req, true, false)) {
        this.#deps.logger.debug('reused connection was closed by the backend; retrying on a new one', { request_id: state.req.id, endpoint: endpoint.name, error: result.error.message });
        result = await this.#call(req, res, true);
      }
      if (result.kind === 'stale_socket') {
        staleReset = true;
        result = { kind: 'failed', reason: 'reset', error: result.error, sent: true };
      }
    }

    if (result.kind === 'client_gone' || result.kind === 'not_forwarded') {
      this.release();
      this.#releaseTrial();
      if (result.kind === 'client_gone') {
        span.setAttribute('error.type', 'client_closed').end();
        return { kind: 'client_gone' };
      }
      span.setAttribute('error.type', 'internal').setStatus({ code: SpanStatusCode.ERROR, message: result.error.message }).end();
      return { kind: 'internal', error: result.error };
    }
    if (result.kind === 'failed') {
      // The upstream knew only the time left; the deadline's own length says more.
      const error = result.reason === 'first_token_timeout' ? this.#noFirstToken() : result.error;
      // A reset on a reused connection does not mark the endpoint down by itself (see above): its next connection will tell.
      return this.#failed(req, result.reason, error, result.sent, canRetry, !staleReset && losesConnection(result.reason));
    }

    const { proxyRes, proxyReq } = result;
    const status = proxyRes.statusCode ?? 502;
    // Node's parser takes any three digits (`099`), which no response to the client can carry.
    if (status < 100 || status > 999) {
      proxyRes.destroy();
      return this.#failed(req, 'protocol_error', new Error(`invalid status code ${status}`), true, canRetry);
    }
    const ttfbMs = performance.now() - state.req.startedAt;
    if (status === 429) endpoint.coolDown(retryAfterMs(proxyRes.headers['retry-after']));
    const retryable = config.proxy.retry_on_status.includes(status);
    if (retryable && canRetry() && this.#maySendAgain(req, !REFUSALS.has(status), false)) {
      discardForReuse(proxyRes);
      this.release();
      const reason: FailureReason = status === 429 ? 'http_429' : 'http_5xx';
      this.#recordFailure(reason, `HTTP ${status}`, status);
      state.lastFailure = { reason, error: new Error(`HTTP ${status}`) };
      metrics.attemptFailed(endpoint.name, reason, true);
      span.setAttribute('http.response.status_code', status).setAttribute('error.type', String(status)).setStatus({ code: SpanStatusCode.ERROR }).end();
      return { kind: 'retry' };
    }
    return { kind: 'response', proxyRes, proxyReq, status, ttfbMs, writtenAt: result.writtenAt, receivedAt: result.receivedAt };
  }

  /**
   * How long the response head may wait for the first token: what is left of the deadline when
   * the response is a stream; undefined (send at once) otherwise or when there is no deadline.
   */
  holdMs(proxyRes: IncomingMessage): number | undefined {
    return this.#deadline?.holdMs(proxyRes.headers);
  }

  /** The held response's first token did not come in time (its upstream request is cancelled): a failure before any byte reached the client. */
  missedFirstToken(req: IncomingMessage, canRetry: () => boolean): Extract<AttemptVerdict, { kind: 'retry' | 'give_up' }> {
    return this.#failed(req, 'first_token_timeout', this.#noFirstToken(), true, canRetry);
  }

  /**
   * The backend cut a held response, or went silent past the idle timeout, before its first
   * token: a stream cut, but before any byte reached the client. As for a missed first token,
   * the deadline is the opt-in to sending the request again.
   */
  cutBeforeFirstToken(req: IncomingMessage, canRetry: () => boolean, timedOut: boolean): Extract<AttemptVerdict, { kind: 'retry' | 'give_up' }> {
    const error = new Error(timedOut ? 'idle timeout before the first token' : 'backend closed the stream before its first token');
    return this.#failed(req, 'stream_cut', error, true, canRetry, !timedOut, true);
  }

  /**
   * The backend cut a response after its head but before any byte of its body, or went silent
   * past the idle timeout there: nothing reached the client, not even the status line, so it gets
   * an error, or another endpoint when the request may be sent again (it reached this one).
   */
  cutBeforeBody(req: IncomingMessage, canRetry: () => boolean, timedOut: boolean): Extract<AttemptVerdict, { kind: 'retry' | 'give_up' }> {
    const error = new Error(timedOut ? 'idle timeout before the first byte of the body' : 'backend closed the response before its body');
    return this.#failed(req, 'stream_cut', error, true, canRetry, !timedOut);
  }

  #noFirstToken(): Error {
    return new Error(`no first token within ${this.#deadline?.limitMs}ms`);
  }

  /** Gives the endpoint's connection slot back (once). */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.endpoint.activeConnections--;
    if (this.#ticket) this.#deps.load?.completed(this.#ticket);
  }

  /**
   * An exception while sending the response on (Sluice's own failure, not the backend's): the
   * slot and any half-open trial go back, and nothing is held against the endpoint.
   */
  abandon(error: Error): void {
    this.release();
    this.#releaseTrial();
    this.span.setAttribute('error.type', 'internal').setStatus({ code: SpanStatusCode.ERROR, message: error.message }).end();
  }

  /**
   * Feeds the endpoint with how a response that reached the client ended; `errorEvent`: a whole
   * stream that ended with an error event (see endedWithError), a failure of the backend's.
   */
  recordResponse(status: number, streamed: StreamOutcome, errorEvent = false): void {
    const { endpoint } = this;
    const { metrics } = this.#deps;
    switch (streamed.outcome) {
      case 'complete':
        if (errorEvent) {
          // The backend answered, and then failed: not a lost connection.
          this.#recordFailure('stream_error', 'backend ended the stream with an error event', undefined, false);
          metrics.attemptFailed(endpoint.name, 'stream_error', false);
          return;
        }
        if (status >= 500) this.#recordFailure('http_5xx', `HTTP ${status}`, status);
        else if (status === 429) this.#recordFailure('http_429', 'HTTP 429', status);
        else {
          endpoint.breaker.recordSuccess(this.#holdsTrial());
          this.#releaseTrial();
          endpoint.requestFinished('success');
        }
        if (status >= 500 || status === 429) metrics.attemptFailed(endpoint.name, status === 429 ? 'http_429' : 'http_5xx', false);
        return;
      case 'upstream_failed':
        // A stream ended cleanly without its end marker lost no connection: the backend is not down.
        this.#recordFailure('stream_cut', cutCause(streamed), undefined, !streamed.timedOut && !streamed.unterminated);
        metrics.attemptFailed(endpoint.name, 'stream_cut', false);
        return;
      case 'client_gone':
      case 'client_stalled':
        this.#releaseTrial();
        return;
    }
  }

  async #call(req: IncomingMessage, res: ServerResponse, fresh: boolean): Promise<AttemptResult> {
    const state = this.#state;
    const headers: Record<string, string> = forwardedHeaders(req, this.#deps.trustedProxies);
    // Sluice reads every response (tokens, usage, time to first token): a compressed one it
    // could not. The client's Accept-Encoding offers compression; it does not require it.
    headers['accept-encoding'] = 'identity';
    // A span without valid ids (no trace provider) has no context to pass on.
    if (hasIds(this.span.spanContext())) {
      // A sampled-out trace passes on the context it arrived in (its server span's), unchanged.
      const context = trace.getSpan(state.req.traceContext) === this.span ? state.req.traceContext : trace.setSpan(state.req.traceContext, this.span);
      propagation.inject(context, headers);
    }
    try {
      const firstTokenMs = this.#deadline?.remainingMs();
      return await this.#deps.upstreamFor(this.endpoint).attempt(req, res, { body: state.req.body, requestId: state.req.id, headers, fresh, firstTokenMs });
    } catch (err) {
      return { kind: 'not_forwarded', error: err instanceof Error ? err : new Error(String(err)) };
    }
  }

  /** Records a backend failure before any byte reached the client, and says whether another endpoint may try. */
  #failed(req: IncomingMessage, reason: FailureReason, error: Error, sent: boolean, canRetry: () => boolean, connectionLost = losesConnection(reason), heldStream = false): Extract<AttemptVerdict, { kind: 'retry' | 'give_up' }> {
    const { endpoint, span } = this;
    const state = this.#state;
    this.release();
    this.#recordFailure(reason, error.message, undefined, connectionLost);
    state.lastFailure = { reason, error };
    const retry = canRetry() && this.#maySendAgain(req, sent, heldStream || reason === 'first_token_timeout');
    this.#deps.metrics.attemptFailed(endpoint.name, reason, retry);
    span.setAttribute('error.type', reason).setStatus({ code: SpanStatusCode.ERROR, message: error.message }).end();
    this.#deps.logger.debug('attempt failed', { request_id: state.req.id, ...traceIds(state.req.traceContext), endpoint: endpoint.name, attempt: state.attempts, reason, error: error.message, retry });
    return retry ? { kind: 'retry' } : { kind: 'give_up' };
  }

  /**
   * A request that may have reached the backend is sent again only if repeating it is harmless or
   * the user allowed it: `retry_non_idempotent`, or, for a stream whose first token never came
   * (missed, or cut before it), `first_token_timeout` itself (that attempt was cancelled or cut,
   * so its generation stopped).
   */
  #maySendAgain(req: IncomingMessage, mayHaveRun: boolean, noFirstToken: boolean): boolean {
    return !mayHaveRun || noFirstToken || IDEMPOTENT.has(req.method ?? 'GET') || this.#deps.config.proxy.retry_non_idempotent;
  }

  /**
   * Feeds a backend failure to the endpoint's breaker and health; a refused or reset connection,
   * or one that does not speak HTTP, marks it unhealthy at once; a missed first token is a
   * latency failure, which degrades it.
   */
  #recordFailure(reason: FailureReason, message: string, status?: number, connectionLost = losesConnection(reason)): void {
    const { endpoint } = this;
    const countsForBreaker = status === undefined || (status >= 500 ? this.#deps.config.breaker.count_5xx : false);
    if (countsForBreaker) endpoint.breaker.recordFailure(this.#holdsTrial());
    this.#releaseTrial();
    if (connectionLost) endpoint.connectionFailed(message);
    if (reason === 'first_token_timeout') endpoint.latencyFailed(message);
    endpoint.requestFinished('failure');
  }

  #holdsTrial(): boolean {
    return this.#state.trialOf === this.endpoint;
  }

  /** An attempt that ended gives the half-open trial back, if it held it (a verdict, if any, is already recorded). */
  #releaseTrial(): void {
    if (!this.#holdsTrial()) return;
    this.#state.trialOf = undefined;
    this.endpoint.breaker.releaseTrial();
  }
}

function startAttemptSpan(state: RequestState, endpoint: Endpoint): Span {
  // A trace sampled out at the server span stays out (the standard samplers decide on the trace
  // id and the parent alone): the server span stands in, and no span is made per attempt.
  const serverSpan = trace.getSpan(state.req.traceContext);
  if (serverSpan && !serverSpan.isRecording()) return serverSpan;
  // Named and described only when it records: without a trace provider nothing is built per request.
  const span = tracer.startSpan('attempt', { kind: SpanKind.CLIENT }, state.req.traceContext);
  if (!span.isRecording()) return span;
  const model = state.catalogModel ?? state.req.model;
  // GenAI semantic conventions name the span `{operation} {model}`, and `{operation}` alone without a model.
  return span.updateName(model ? `${state.operation} ${model}` : state.operation).setAttributes({
    'gen_ai.operation.name': state.operation,
    ...(model ? { 'gen_ai.request.model': model } : {}),
    'server.address': endpoint.baseUrl.hostname,
    'server.port': Number(endpoint.baseUrl.port || (endpoint.baseUrl.protocol === 'https:' ? 443 : 80)),
    'sluice.endpoint': endpoint.name,
    'sluice.attempt': state.attempts,
  });
}

/** Why the backend cut a stream that had reached the client, in words for logs and health. */
export function cutCause(streamed: StreamOutcome): string {
  if (streamed.timedOut) return 'idle timeout mid-stream';
  return streamed.unterminated ? 'backend ended the stream without its end marker' : 'backend closed mid-stream';
}

/** A refused or reset connection, or one that does not speak HTTP: the endpoint is marked unhealthy at once. */
function losesConnection(reason: FailureReason): boolean {
  return reason === 'connect_error' || reason === 'reset' || reason === 'protocol_error';
}

/** Retry-After in seconds or as an HTTP date; 1 s when absent or unreadable, capped at 5 minutes. */
function retryAfterMs(header: string | undefined): number {
  if (!header) return 1000;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, 300_000) : 1000;
}
