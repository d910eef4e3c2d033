import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '@opentelemetry/api';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { ModelCatalog } from '../discovery/index.js';
import { MAX_WAITING_PER_CONNECTION, waitTurn } from '../server/index.js';
import { startServerSpan, withRequestContext, type Logger } from '../telemetry/index.js';
import type { BodyBudget } from './body-budget.js';
import { sendError, SluiceError } from './errors.js';
import type { Forwarder, ProxiedRequest } from './forwarder.js';
import { requestIdFor } from './headers.js';
import { bodyFacts, readBody } from './request-body.js';
import { untracedRequest } from './request-state.js';
import { answeredOnSocket } from './unparsed.js';

/** What a request is served with; replaced as a whole when the configuration is reloaded. */
export interface ProxyRuntime {
  readonly forwarder: Forwarder;
  readonly catalog: ModelCatalog;
  readonly maxBodyBytes: number;
  /** limits.max_body_total */
  readonly maxBodyTotalBytes: number;
}

export interface ProxyAppOptions {
  readonly current: () => ProxyRuntime;
  readonly logger: Logger;
  /** Sluice's own routes (/metrics, /internal/*) when they share the proxy's port. */
  readonly adminRouter?: express.Router;
  /**
   * Who may use the proxy surface (API keys, rate limits): every request but the admin routes
   * passes it first, once its path is known to be forwarded or answered by Sluice.
   */
  readonly gate?: RequestGate;
  /** The request bodies the process holds (it outlives a reload; the limit is the runtime's). */
  readonly bodies: BodyBudget;
}

/**
 * Decides whether a request on the proxy surface may go on: undefined to go on, or the error to
 * answer with (counted and logged like any request). Synchronous when it can be, so a
 * deployment without rate limits pays no extra turn of the event loop. May set response headers.
 */
export interface RequestGate {
  admit(req: IncomingMessage, res: ServerResponse): SluiceError | undefined | Promise<SluiceError | undefined>;
}

/** Returns the id given to the request (undefined for Sluice's admin routes): what a request cut at shutdown is logged with. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => string | undefined;

/**
 * The client-facing request listener. Sluice's own routes (status, metrics, the unified model
 * lists) are an Express app; every other request goes straight to the forwarder. Routing the
 * proxied requests through Express as well cost more than half of Sluice's throughput when
 * measured (http-proxy-middleware behind Express 5 against the same middleware on node:http,
 * same backend, same run), for nothing a forwarded request needs.
 */
export function createProxyApp(opts: ProxyAppOptions): RequestListener {
  const app = jsonApp();
  if (opts.adminRouter) app.use(opts.adminRouter);

  answerInJson(app, opts.logger);

  const ownRoute = ownRouteMatcher(opts.adminRouter !== undefined);
  // A refused request's body is not read: the connection closes after the answer rather than
  // take in the rest of an upload that no limit applies to.
  const refuse = (req: IncomingMessage, res: ServerResponse, arrival: Arrival, err: SluiceError) => {
    closeIfBodyUnread(req, res);
    opts.current().forwarder.reject(req, res, unread(arrival), err);
  };
  return (req, res) => {
    closeAfterUpgradeAsk(req, res);
    // What Node's parser lets through but cannot be read as sent: refused in JSON, counted and
    // logged, as the parser's own refusals are, and the connection closed.
    const unframed = framingRefusal(req);
    if (unframed) {
      res.setHeader('connection', 'close');
      req.on('error', ignore);
      const id = requestIdFor(req);
      opts.current().forwarder.reject(req, res, untracedRequest(id), unframed);
      return id;
    }
    const route = ownRoute(req);
    // The admin router guards itself (networks, token). Neither it nor the model lists read a body.
    if (route !== undefined) closeIfBodyUnread(req, res);
    if (route === 'admin') {
      app(req, res);
      return undefined;
    }
    const arrival: Arrival = { id: requestIdFor(req), startedAt: performance.now(), traceContext: startServerSpan(req, res) };
    // A path that is not forwarded is refused before keys and rate limits are looked at, as nginx
    // answers for a location it does not serve: it spends no client's budget.
    const refused = route === undefined ? opts.current().forwarder.refusal(req) : undefined;
    if (refused) {
      req.on('error', ignore);
      refuse(req, res, arrival, refused);
      return arrival.id;
    }
    const serve = () => (route === 'models' ? answerModelList(req, res, arrival) : forward(req, res, arrival));
    const gate = opts.gate;
    const verdict = gate ? withRequestContext(arrival.traceContext, () => gate.admit(req, res)) : undefined;
    if (verdict instanceof Promise) {
      verdict.then((refusal) => (refusal ? refuse(req, res, arrival, refusal) : serve()), (err: unknown) => answerError(req, res, err, opts.logger));
    } else if (verdict) refuse(req, res, arrival, verdict);
    else serve();
    return arrival.id;
  };

  // The unified lists answer once the start-up warm-up is over: an empty list then is not the fleet's.
  function answerModelList(req: IncomingMessage, res: ServerResponse, arrival: Arrival): void {
    const { catalog, forwarder } = opts.current();
    if (catalog.warmedUp) forwarder.answerModelList(req, res, unread(arrival));
    else void currentPrimed().then(() => opts.current().forwarder.answerModelList(req, res, unread(arrival)));
  }

  /**
   * Routes on the runtime of the moment. Before the first discovery round has settled, a model
   * the fleet serves may not be known yet: waits for it (at most discovery.timeout) first. After
   * it, only a request for a model no endpoint is known to serve waits, while a reload's re-pointed
   * endpoint has not listed yet (see ModelCatalog): the others are not held up by its list.
   */
  function routeWhenPrimed(req: IncomingMessage, res: ServerResponse, preq: ProxiedRequest): Promise<void> | void {
    const { forwarder, catalog } = opts.current();
    if (catalog.primed || (catalog.warmedUp && (preq.model === undefined || catalog.resolve(preq.model) !== undefined))) return route(forwarder, req, res, preq);
    // Waiting on the backends' lists, not on Sluice: not Sluice's own time (see ProxiedRequest.waited).
    return currentPrimed().then(() => route(opts.current().forwarder, req, res, preq.waited ? preq : { ...preq, waited: true }));
  }

  /**
   * Resolves once the catalog of the moment is primed. A reload that replaces the catalog waited
   * for hands the wait on to the new one (the old one is no longer told of listings).
   */
  function currentPrimed(): Promise<void> {
    const { catalog } = opts.current();
    return catalog.primed ? Promise.resolve() : catalog.whenPrimedOrRetired().then(currentPrimed);
  }

  function forward(req: IncomingMessage, res: ServerResponse, arrival: Arrival): void {
    const { forwarder, maxBodyBytes, maxBodyTotalBytes } = opts.current();
    // A client request's stream errors (aborted upload, reset) are handled where it is read; never fatal.
    req.on('error', ignore);
    const readFrom = performance.now();
    readBody(req, maxBodyBytes, res, { budget: opts.bodies, limit: maxBodyTotalBytes })
      .then((body) => {
        const uploadMs = performance.now() - readFrom;
        const { model, json } = bodyFacts(req, body);
        const preq = proxied(arrival, body, uploadMs, model, json);
        // A request pipelined behind others on its connection is forwarded in its turn (see waitTurn).
        const turn = waitTurn(req, res);
        if (turn === 'too_deep') {
          res.setHeader('connection', 'close');
          return forwarder.reject(req, res, unread(arrival), new SluiceError('too_many_pipelined', `more than ${MAX_WAITING_PER_CONNECTION} requests are waiting on this connection; send them on other connections`));
        }
        if (turn !== undefined) return turn.then((mine) => (mine ? routeWhenPrimed(req, res, { ...preq, waited: true }) : opts.current().forwarder.reject(req, res, unread(arrival), new SluiceError('client_closed', 'the client closed the connection before its request was forwarded'))));
        return routeWhenPrimed(req, res, preq);
      })
      .catch((err: unknown) => {
        if (!(err instanceof SluiceError)) return answerError(req, res, err, opts.logger);
        // Stop reading an upload refused before its end: answer and close rather than drain it.
        if (err.code === 'body_too_large' || err.code === 'overloaded') res.setHeader('connection', 'close');
        forwarder.reject(req, res, unread(arrival), err);
      });
  }
}

/**
 * Routes a request whose body has been read, unless what followed it on its connection was
 * refused by the parser and answered there in its place (a pipelined request that is not HTTP):
 * then it is recorded with that answer (see markAnsweredOnSocket), not as a client that left.
 */
function route(forwarder: Forwarder, req: IncomingMessage, res: ServerResponse, preq: ProxiedRequest): Promise<void> | void {
  if (answeredOnSocket(res)) return forwarder.reject(req, res, { ...preq, model: undefined, json: undefined }, new SluiceError('client_closed', 'the connection was closed'));
  return forwarder.handle(req, res, preq);
}

/** What is known of a request when it arrives, before its body is read. */
interface Arrival {
  readonly id: string;
  readonly startedAt: number;
  readonly traceContext: Context;
}

const EMPTY = Buffer.alloc(0);

/**
 * The request as the forwarder sees it. Built field by field: a spread followed by more fields
 * (`{ ...arrival, body }`) took V8's slow path, several microseconds per request.
 */
function proxied(arrival: Arrival, body: Buffer, uploadMs: number, model: string | undefined, json: unknown): ProxiedRequest {
  return { id: arrival.id, startedAt: arrival.startedAt, traceContext: arrival.traceContext, body, uploadMs, model, json };
}

/** A request answered before (or instead of) reading its body. */
function unread(arrival: Arrival): ProxiedRequest {
  return proxied(arrival, EMPTY, 0, undefined, undefined);
}

function ignore(): void {}

/**
 * A request whose body will not be read: its connection closes after the answer. Node would
 * otherwise read the rest of the body, unbounded, to reuse the connection, until
 * server.request_timeout, and then answer a 408 after the answer already sent.
 */
function closeIfBodyUnread(req: IncomingMessage, res: ServerResponse): void {
  // `Content-Length: 0`, which some clients send with every GET, announces no body: the connection stays.
  const length = req.headers['content-length'];
  if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) res.setHeader('connection', 'close');
}

const ASKS_UPGRADE = /(?:^|,)\s*upgrade\s*(?:,|$)/i;

/**
 * A request that asks to switch protocols (`Connection: upgrade` with `Upgrade`, as curl's h2c
 * attempt or a WebSocket handshake sends) is answered in HTTP/1.1, and its connection closes
 * after the answer. Node's parser stops reading a connection's bytes at the end of such a request
 * and, without an `upgrade` listener, drops what followed it in the same read: a request pipelined
 * behind it would never be answered and its client would wait on an open connection. Closed, the
 * client sees the connection end and sends it again on another.
 */
function closeAfterUpgradeAsk(req: IncomingMessage, res: ServerResponse): void {
  const connection = req.headers.connection;
  if (connection !== undefined && req.headers.upgrade !== undefined && ASKS_UPGRADE.test(connection)) res.setHeader('connection', 'close');
}

/**
 * An HTTP/1.1 request without a Host header, which RFC 9112 (3.2) says to answer with a 400.
 * Node checks this itself (the `requireHostHeader` server option) with a bare 400; Sluice's
 * listeners turn that off and refuse it in JSON (see framingRefusal).
 */
function lacksHost(req: IncomingMessage): boolean {
  return req.headers.host === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor === 1;
}

/**
 * Why a request Node's parser accepted cannot be read as sent, if it cannot: an HTTP/1.1 request
 * without Host (Node's own check answered a bare 400 that nothing recorded), or a body in a
 * transfer coding other than chunked alone. Node takes `Transfer-Encoding: gzip, chunked` and
 * removes only the chunking: the body read would still be gzip, and would be forwarded with a
 * Content-Length as if it were the JSON (RFC 9112, 6.1: a server refuses a coding it does not
 * understand).
 */
function framingRefusal(req: IncomingMessage): SluiceError | undefined {
  if (lacksHost(req)) return new SluiceError('malformed_request', 'an HTTP/1.1 request needs a Host header');
  const coding = req.headers['transfer-encoding'];
  if (coding !== undefined && coding.trim().toLowerCase() !== 'chunked') {
    return new SluiceError('malformed_request', `the transfer coding ${JSON.stringify(coding.slice(0, 64))} is not supported (only chunked)`);
  }
  return undefined;
}

/** The admin port's app (`server.admin_port`): Sluice's own routes, answering JSON for errors and unknown paths too. */
export function createAdminApp(router: express.Router, logger: Logger): express.Express {
  const app = jsonApp();
  app.use((req: Request, res: Response, next: NextFunction) => {
    closeAfterUpgradeAsk(req, res);
    const unframed = framingRefusal(req);
    // No admin route reads a body (see closeIfBodyUnread).
    closeIfBodyUnread(req, res);
    if (!unframed) return next();
    res.setHeader('connection', 'close');
    sendError(req, res, unframed);
  });
  app.use(router);
  answerInJson(app, logger);
  return app;
}

function jsonApp(): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  return app;
}

/** Every answer Sluice itself gives is JSON in the client's API shape: unknown paths and errors too, never an HTML page. */
function answerInJson(app: express.Express, logger: Logger): void {
  app.use((req: Request, res: Response) => {
    res.setHeader('x-sluice-request-id', requestIdFor(req));
    sendError(req, res, new SluiceError('not_found', `no route for ${req.method} ${req.path}`));
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => answerError(req, res, err, logger));
}

/** Paths Sluice answers itself (its admin routes, the unified model lists); everything else is proxied. */
function ownRouteMatcher(withAdmin: boolean): (req: IncomingMessage) => 'admin' | 'models' | undefined {
  return (req) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (withAdmin && (path === '/metrics' || path === '/internal' || path.startsWith('/internal/'))) return 'admin';
    if ((req.method === 'GET' || req.method === 'HEAD') && (path === '/v1/models' || path === '/api/tags')) return 'models';
    return undefined;
  };
}

function answerError(req: IncomingMessage, res: ServerResponse, err: unknown, logger: Logger): void {
  const sluiceErr = err instanceof SluiceError ? err : new SluiceError('internal_error', 'internal error', { cause: err });
  if (sluiceErr.code === 'internal_error') logger.error('unhandled error', { path: req.url, error: err instanceof Error ? err.stack : String(err) });
  // After the answer's head has gone out, sendError can only cut what is left of it.
  sendError(req, res, sluiceErr, { 'x-sluice-request-id': requestIdFor(req) });
}
