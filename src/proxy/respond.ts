import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResponseDirectory } from '../affinity/index.js';
import type { SluiceConfig } from '../config/index.js';
import { traceIds, type Logger, type SluiceMetrics } from '../telemetry/index.js';
import { cutCause, type Attempt, type AttemptVerdict } from './attempt.js';
import { countsTokensOnly } from './api-paths.js';
import { closesWithEvent, endedWithError, endsWithMarker, expectedEndMarker } from './end-marker.js';
import { responseHeaders } from './headers.js';
import { endResponseSpan, type RequestObserver } from './observe.js';
import { CLIENT_CLOSED, withOwnHeaders, type RequestState } from './request-state.js';
import { forgetDeletedResponse, watchCreatedResponse } from './stored-response.js';
import { streamResponse, type StreamOutcome } from './stream-response.js';
import { TokenTiming } from './token-timing.js';
import { UsageTap } from './usage-tap.js';

export interface ResponderDeps {
  readonly config: SluiceConfig;
  readonly metrics: SluiceMetrics;
  readonly logger: Logger;
  /** See ObserverDeps.currentLabel. */
  readonly currentLabel?: (label: string) => string;
  /** See ForwarderDeps.storedResponses. */
  readonly storedResponses?: ResponseDirectory;
}

export type ResponseVerdict = Extract<AttemptVerdict, { kind: 'response' }>;

/**
 * How sending a response on ended: answered (recorded); its first token never came and nothing
 * reached the client; or Sluice failed on the way (`internal`, the attempt given back).
 */
export type ResponseEnd = { readonly kind: 'answered' } | Extract<AttemptVerdict, { kind: 'retry' | 'give_up' | 'internal' }>;

/**
 * Sends an attempt's response on to the client, then feeds the endpoint and records the
 * request. Once the head is sent the client has bytes, and a failure can only cut the stream;
 * a head held for the first token (`proxy.first_token_timeout`) that never comes leaves the
 * client untouched, and the request may go to another endpoint.
 */
export class Responder {
  readonly #deps: ResponderDeps;
  readonly #observer: RequestObserver;

  constructor(deps: ResponderDeps, observer: RequestObserver) {
    this.#deps = deps;
    this.#observer = observer;
  }

  async respond(req: IncomingMessage, res: ServerResponse, state: RequestState, attempt: Attempt, verdict: ResponseVerdict, canRetry: () => boolean): Promise<ResponseEnd> {
    try {
      return await this.#respond(req, res, state, attempt, verdict, canRetry);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.#deps.logger.error('failed sending a response on', { request_id: state.req.id, ...traceIds(state.req.traceContext), endpoint: attempt.endpoint.name, error: error.stack ?? error.message });
      verdict.proxyRes.destroy();
      attempt.abandon(error);
      return { kind: 'internal', error };
    }
  }

  async #respond(req: IncomingMessage, res: ServerResponse, state: RequestState, attempt: Attempt, verdict: ResponseVerdict, canRetry: () => boolean): Promise<ResponseEnd> {
    const { proxyRes, proxyReq, status, ttfbMs, writtenAt, receivedAt } = verdict;
    const { startedAt } = state.req;
    // Writing the head is Sluice's own time too; a head held for the first token waits in between, which is not.
    let headMs = 0;
    const send = () => {
      const at = performance.now();
      this.#writeHead(res, state, attempt, status, proxyRes);
      headMs = performance.now() - at;
    };
    const head = { send, holdMs: attempt.holdMs(proxyRes) };
    const readyAt = performance.now();
    const tap = new UsageTap();
    if (this.#deps.storedResponses) watchCreatedResponse(this.#deps.storedResponses, tap, req, state.req.json, attempt.endpoint, status);
    const timing = new TokenTiming(proxyRes.headers, this.#deps.metrics.interTokenLatency(attempt.endpoint.name, this.#deps.currentLabel?.(state.modelLabel) ?? state.modelLabel));
    const { idle_timeout, client_stall_timeout } = this.#deps.config.proxy;
    // A successful stream whose API promises an end marker is whole only with it (an answer that
    // can have no body, to a HEAD, a 204 or a 304, has none to carry it).
    const marker = status >= 200 && status <= 299 && status !== 204 && req.method !== 'HEAD' ? expectedEndMarker(req.url ?? '', proxyRes.headers) : undefined;
    if (marker !== undefined && closesWithEvent(marker)) tap.watchEvents();
    const whole = marker === undefined ? undefined : () => endsWithMarker(tap.lastBytes(), marker, tap.lastEventHead());
    const streamed = await streamResponse(proxyRes, res, proxyReq, { idleMs: idle_timeout, stallMs: client_stall_timeout }, tap, timing, head, whole);
    if (streamed.outcome === 'no_first_token') return attempt.missedFirstToken(req, canRetry);
    if (streamed.outcome === 'cut_before_first_token') return attempt.cutBeforeFirstToken(req, canRetry, streamed.timedOut);
    if (streamed.outcome === 'cut_before_body') return attempt.cutBeforeBody(req, canRetry, streamed.timedOut);
    attempt.release();
    // A whole stream that ended with an error event failed, though it reached the client whole.
    const errorEvent = marker !== undefined && streamed.outcome === 'complete' && endedWithError(tap.lastBytes(), marker, tap.lastEventHead());
    attempt.recordResponse(status, streamed, errorEvent);
    // A token count's answer holds the prompt's tokens, which no generation consumed.
    const usage = countsTokensOnly(req.url ?? '') ? {} : tap.result();
    if (this.#deps.storedResponses) forgetDeletedResponse(this.#deps.storedResponses, req, status);
    endResponseSpan(attempt.span, status, errorEvent ? 'stream_error' : streamed.outcome, usage);
    const [code, error] = endCode(status, streamed, errorEvent);
    if (error === 'stream_cut') this.#deps.logger.warn('response cut mid-stream', { request_id: state.req.id, ...traceIds(state.req.traceContext), endpoint: attempt.endpoint.name, reason: cutCause(streamed), bytes: streamed.bytes });
    if (errorEvent) this.#deps.logger.warn('stream ended with an error event', { request_id: state.req.id, ...traceIds(state.req.traceContext), endpoint: attempt.endpoint.name, bytes: streamed.bytes });
    // An error body is no token: counted, a backend failing fast would look like a fast one.
    // Streamed or not as TokenTiming took it (the response's content type): the `stream` label of the observation.
    const answered = status >= 200 && status <= 299;
    const stream = timing.streamed;
    const ttft = timing.firstTokenAt === undefined || !answered ? undefined : { ms: timing.firstTokenAt - startedAt, streamed: stream };
    // A stream that ended before its first token, cut, left or failed with an error event: the wait has no time to first token, and is counted apart.
    const firstTokenMissed = answered && timing.firstTokenAt === undefined && (streamed.outcome !== 'complete' || errorEvent) && stream;
    // Sluice's own time; a retried request's also holds its failed attempts, and a request that
    // waited its wait: only first attempts of requests that did not wait count. The body's
    // upload is the client's time, not Sluice's (as a slow reader's is not the backend's).
    const overheadMs = state.attempts === 1 && !state.req.waited && writtenAt !== undefined ? writtenAt - startedAt - state.req.uploadMs + (readyAt - receivedAt) + headMs : undefined;
    this.#observer.finish(req, state, { endpoint: attempt.endpoint, code, ttfbMs, ttft, overheadMs, firstTokenMissed, streamed: stream, bytes: streamed.bytes, usage, error });
    return { kind: 'answered' };
  }

  /**
   * Sluice's headers go in with the backend's (and win over any of the same name): a header set
   * on the response beforehand would make Node take writeHead's slow path, one setHeader per
   * header of the backend's.
   */
  #writeHead(res: ServerResponse, state: RequestState, attempt: Attempt, status: number, proxyRes: IncomingMessage): void {
    const headers = withOwnHeaders(responseHeaders(proxyRes.headers), state);
    if (this.#deps.config.proxy.expose_route_headers) {
      headers['x-sluice-endpoint'] = attempt.endpoint.name;
      if (state.decision) headers['x-sluice-route'] = state.decision.reason;
    }
    res.writeHead(status, headers);
  }
}

/**
 * The status a finished response is counted and logged with: a stream the backend cut, or ended
 * with an error event (`errorEvent`), is a 502 (504 after the idle timeout), whatever status its
 * headers carried; a client that left or stalled is 499.
 */
function endCode(status: number, streamed: StreamOutcome, errorEvent: boolean): [number, string | undefined] {
  switch (streamed.outcome) {
    case 'complete':
      return errorEvent ? [502, 'stream_error'] : [status, undefined];
    case 'upstream_failed':
      return [streamed.timedOut ? 504 : 502, 'stream_cut'];
    case 'client_gone':
      return [CLIENT_CLOSED, 'client_closed'];
    case 'client_stalled':
      return [CLIENT_CLOSED, 'client_stalled'];
  }
}
