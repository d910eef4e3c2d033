import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError, type ApiFamily } from './api-errors.js';
import { BodyTooLargeError, clientGoneSignal, readBody, sendJson, sleep } from './http-io.js';
import type { LoadedModels } from './model-loader.js';
import type { AppState, RequestContext, Route } from './routes.js';
import { runWithTraceContext } from './trace-seam.js';

type Outcome =
  | { readonly body: Record<string, unknown> | undefined; readonly models: LoadedModels | undefined; readonly firstTokenStallMs: number }
  | { readonly failed: true };

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function malformedJsonMessage(family: ApiFamily): string {
  return family === 'openai'
    ? 'We could not parse the JSON body of your request. The body must be a JSON object.'
    : 'invalid JSON body: expected a JSON object';
}

/**
 * Applies the active fault to a request. Returns the delay to add before its first generated token
 * when the request should go on to its handler; false when the fault has answered it, or
 * deliberately never will.
 */
async function passFault(app: AppState, route: Route, res: ServerResponse, signal: AbortSignal): Promise<number | false> {
  const action = app.faults.actionFor();
  switch (action.kind) {
    case 'pass':
      return 0;
    case 'delay':
      return (await sleep(action.delayMs, signal)) && 0;
    case 'stall':
      return action.delayMs;
    case 'error':
      sendError(res, route.family, { status: action.status, message: `injected fault: ${app.faults.current.mode}`, code: 'injected_fault' }, app.serverId);
      return false;
    case 'hang':
      // Leave the request open; the socket stays until the client gives up or the server closes.
      return false;
    case 'crash':
      // FAULT=crash from the environment: the first request that reaches the server brings it down.
      app.onCrash();
      res.destroy();
      return false;
  }
}

async function prepare(req: IncomingMessage, route: Route, ctxBase: Omit<RequestContext, 'body' | 'firstTokenStallMs'>): Promise<Outcome> {
  const { res, app, signal } = ctxBase;
  let raw = '';
  if (route.method === 'POST') {
    try {
      raw = await readBody(req);
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) throw error;
      sendError(res, route.family, { status: 413, message: error.message }, app.serverId);
      return { failed: true };
    }
  }
  const firstTokenStallMs = route.kind === 'admin' ? 0 : await passFault(app, route, res, signal);
  if (firstTokenStallMs === false) return { failed: true };
  const models = app.loader.models;
  if (route.kind === 'api' && !models) {
    sendError(res, route.family, { status: 503, message: 'model server is loading', code: 'model_loading' }, app.serverId);
    return { failed: true };
  }
  if (route.method !== 'POST') return { body: undefined, models, firstTokenStallMs };
  const body = parseJsonObject(raw);
  if (!body) {
    sendError(res, route.family, { status: 400, message: malformedJsonMessage(route.family) }, app.serverId);
    return { failed: true };
  }
  return { body, models, firstTokenStallMs };
}

/** Builds the `request` listener: route lookup, faults, loading gate, JSON body, then the handler. */
export function createRequestListener(app: AppState, routes: readonly Route[]): (req: IncomingMessage, res: ServerResponse) => void {
  const table = new Map(routes.map((route) => [`${route.method} ${route.path}`, route]));
  const knownPaths = new Set(routes.map((route) => route.path));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    res.setHeader('X-Server-Id', app.serverId);
    const url = new URL(req.url ?? '/', 'http://localhost');
    // An exact route, else one for any last segment (`/v1/responses/:id`).
    const slash = url.pathname.lastIndexOf('/');
    const withParam = slash > 0 && slash < url.pathname.length - 1 ? `${url.pathname.slice(0, slash)}/:id` : undefined;
    const route = table.get(`${req.method} ${url.pathname}`) ?? (withParam === undefined ? undefined : table.get(`${req.method} ${withParam}`));
    if (!route) {
      const path = knownPaths.has(url.pathname) ? url.pathname : withParam !== undefined && knownPaths.has(withParam) ? withParam : undefined;
      if (path !== undefined) {
        res.setHeader('allow', routes.filter((r) => r.path === path).map((r) => r.method).join(', '));
        return sendJson(res, 405, { error: `method ${req.method} not allowed on ${url.pathname}`, server_id: app.serverId });
      }
      return sendJson(res, 404, { error: `no route for ${req.method} ${url.pathname}`, server_id: app.serverId });
    }
    const ctxBase = { req, res, url, signal: clientGoneSignal(res), app };
    await runWithTraceContext(req, `${route.method} ${route.path}`, async () => {
      const outcome = await prepare(req, route, ctxBase);
      if ('failed' in outcome) return;
      const ctx: RequestContext = { ...ctxBase, body: outcome.body, firstTokenStallMs: outcome.firstTokenStallMs };
      if (route.kind !== 'api') await route.handle(ctx);
      else if (outcome.models) await route.handle(ctx, outcome.models);
    });
  };

  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      app.log({ level: 'error', msg: 'request failed', server_id: app.serverId, path: req.url, error: String(error) });
      if (res.headersSent) res.destroy();
      else sendJson(res, 500, { error: 'internal error', server_id: app.serverId });
    });
  };
}
