import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, INVALID_SPANID, INVALID_TRACEID, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Context, type Span, type SpanContext } from '@opentelemetry/api';
import { CLIENT_CLOSED } from './failure-reasons.js';

const tracer = trace.getTracer('sluice');

/**
 * Starts the server span of a client request, continuing the caller's trace when it sent a
 * `traceparent`, and ends it when the response is done. Returns the context the request's
 * work belongs to (its attempt spans are children of this span). Without a trace provider,
 * or for a request sampled out, the span records nothing and no listener is added.
 *
 * Sluice makes this span itself rather than through OpenTelemetry's HTTP instrumentation:
 * with the same attributes, that instrumentation cost about as much CPU per request as the
 * whole rest of tracing (README, Performance).
 */
export function startServerSpan(req: IncomingMessage, res: ServerResponse): Context {
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  const method = req.method ?? 'GET';
  const span = tracer.startSpan(method, { kind: SpanKind.SERVER }, parent);
  // Without a trace provider the span has no valid ids: nothing to carry (and no context to allocate).
  if (!span.isRecording() && !hasIds(span.spanContext())) return parent;
  const spanContext = trace.setSpan(parent, span);
  if (!span.isRecording()) return spanContext;
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  const host = req.headers.host ?? '';
  const colon = host.lastIndexOf(':');
  const secure = 'encrypted' in req.socket && Boolean(req.socket.encrypted);
  span.setAttributes({
    'http.request.method': method,
    'url.path': query === -1 ? url : url.slice(0, query),
    'url.scheme': secure ? 'https' : 'http',
    'server.address': colon > 0 && !host.endsWith(']') ? host.slice(0, colon) : host,
    'network.protocol.version': req.httpVersion,
    ...(req.socket.remoteAddress ? { 'client.address': req.socket.remoteAddress } : {}),
    ...(req.headers['user-agent'] ? { 'user_agent.original': req.headers['user-agent'] } : {}),
  });
  res.once('close', () => {
    const status = res.statusCode;
    // A client that left before the response head got no status: none is claimed (statusCode
    // is Node's default, 200, until a head is written).
    if (res.headersSent) span.setAttribute('http.response.status_code', status);
    if (res.writableFinished) {
      if (status >= 500) span.setAttribute('error.type', String(status)).setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      return;
    }
    // Cut short: by the client, or by Sluice for a stream the backend cut. The request's end is
    // recorded just after (recordServerOutcome), and says which; without it, the client left.
    setImmediate(() => {
      if (!outcomes.has(span)) span.setAttribute('error.type', 'client_closed');
      span.end();
    });
  });
  return spanContext;
}

/** Server spans whose request's end was recorded by recordServerOutcome. */
const outcomes = new WeakSet<Span>();

/**
 * Records on a request's server span how the request ended, when that is not what its response
 * shows: a failure (5xx, such as a stream the backend cut, which Sluice ends by cutting the
 * client's connection) or a client that left (499). Other requests' spans read it from the
 * response as it closes.
 */
export function recordServerOutcome(requestContext: Context, code: number, error: string | undefined): void {
  if (code < CLIENT_CLOSED) return;
  const span = trace.getSpan(requestContext);
  if (!span?.isRecording()) return;
  outcomes.add(span);
  span.setAttribute('error.type', error ?? String(code));
  if (code >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
}

/** Runs `fn` with the request's context active, for libraries that read the active context (the rate-limit store's client). */
export function withRequestContext<T>(requestContext: Context, fn: () => T): T {
  return context.with(requestContext, fn);
}

/**
 * The ids of the trace a request's context belongs to (its server span), for log lines about
 * it; empty when it is not traced. The request path keeps no ambient trace context, so the
 * context is passed in.
 */
export function traceIds(requestContext: Context): { trace_id?: string; span_id?: string } {
  const spanContext = trace.getSpan(requestContext)?.spanContext();
  return spanContext && hasIds(spanContext) ? { trace_id: spanContext.traceId, span_id: spanContext.spanId } : {};
}

/** The trace id of a request's context when that trace is sampled (recorded and exported): what an exemplar may point at. */
export function sampledTraceId(requestContext: Context): string | undefined {
  const spanContext = trace.getSpan(requestContext)?.spanContext();
  return spanContext && hasIds(spanContext) && (spanContext.traceFlags & TraceFlags.SAMPLED) !== 0 ? spanContext.traceId : undefined;
}

/**
 * Whether a span of Sluice's request path carries trace ids: every span the SDK starts does, and
 * a caller's context arrives validated by the propagator; only a span made without a trace
 * provider has the invalid ones. Two comparisons, where the API's full check runs two patterns
 * (it ran several times per request).
 */
export function hasIds(spanContext: SpanContext): boolean {
  return spanContext.traceId !== INVALID_TRACEID && spanContext.spanId !== INVALID_SPANID;
}
