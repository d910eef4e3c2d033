import type { IncomingMessage } from 'node:http';
import { trace } from '@opentelemetry/api';

/**
 * Every request is handled inside `runWithTraceContext`. When tracing is on (see main.ts), the
 * HTTP instrumentation has already continued the caller's trace from `traceparent` and made a
 * server span; this names it after the route. Without tracing, the API is a no-op.
 */
export function runWithTraceContext<T>(req: IncomingMessage, routeName: string, handle: () => Promise<T>): Promise<T> {
  void req;
  trace.getActiveSpan()?.updateName(routeName).setAttribute('http.route', routeName.split(' ')[1] ?? routeName);
  return handle();
}
