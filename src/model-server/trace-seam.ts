import type { IncomingMessage } from 'node:http';

/**
 * TRACE CONTEXT SEAM. Every request is handled inside `runWithTraceContext`. Distributed tracing
 * plugs in here: extract the incoming `traceparent` header, start a server span named after the
 * route, run `handle` inside that context, and end the span when it settles. Until then this is a
 * pass-through, so the server carries no tracing dependency.
 */
export function runWithTraceContext<T>(req: IncomingMessage, routeName: string, handle: () => Promise<T>): Promise<T> {
  void req;
  void routeName;
  return handle();
}
