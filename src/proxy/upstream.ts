import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, ServerResponse, ClientRequest } from 'node:http';
import type { Server, Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Stream } from 'node:stream';
import { createProxyMiddleware, type RequestHandler } from 'http-proxy-middleware';
import type { FailureReason } from '../telemetry/index.js';
import { CLIENT_ADDRESS_NAMES, hopByHopNames } from './headers.js';
import { IdleSocketSweeper } from './idle-sockets.js';
import { proxyTarget } from './proxy-target.js';

export interface UpstreamTimeouts {
  readonly connectMs: number;
  readonly firstByteMs: number;
}

/**
 * What one attempt yields: response headers from the backend (not yet sent on), or why not.
 * `failed` is the backend's doing; `sent` says whether the request may have reached it (false
 * when the connection was never made). `stale_socket` is the keep-alive race: a reused idle
 * connection reset before any response byte, which the backend closed without reading the
 * request. `not_forwarded` is Sluice's own failure to hand the request to the proxy engine.
 */
export type AttemptResult =
  /** `writtenAt`: the request was flushed to the backend; `receivedAt`: its response headers arrived (performance.now()). */
  | { readonly kind: 'response'; readonly proxyRes: IncomingMessage; readonly proxyReq: ClientRequest; readonly writtenAt: number | undefined; readonly receivedAt: number }
  | { readonly kind: 'failed'; readonly reason: FailureReason; readonly error: Error; readonly sent: boolean }
  | { readonly kind: 'stale_socket'; readonly error: Error }
  | { readonly kind: 'not_forwarded'; readonly error: Error }
  | { readonly kind: 'client_gone' };

export interface AttemptRequest {
  readonly body: Buffer;
  readonly requestId: string;
  /** Headers Sluice sets for this attempt (trace context, client address); an empty value removes the header. */
  readonly headers: Record<string, string>;
  /** Use a new connection rather than an idle keep-alive one (after the keep-alive race). */
  readonly fresh?: boolean;
  /** Milliseconds left of the attempt's first-token deadline, when it has one: no headers by then is a `first_token_timeout`. */
  readonly firstTokenMs?: number;
}

interface PendingAttempt {
  readonly request: AttemptRequest;
  readonly settle: (r: AttemptResult) => void;
  proxyReq?: ClientRequest;
  /** The connection to the backend was made (or reused): the request may have reached it. */
  connected: boolean;
  writtenAt?: number;
}

/**
 * Idle keep-alive sockets are closed after this long, below the keep-alive timeout of common
 * backends (Node 5 s, uvicorn 5 s, Go 90 s) so Sluice rarely reuses a socket the backend is
 * closing; undici uses the same 4 s.
 */
const IDLE_SOCKET_MS = 4000;
/** How often an agent's idle connections are looked at: they close 3.5 to 4 s after their last use. */
const IDLE_SWEEP_MS = 500;

/**
 * What http-proxy pipes into each upstream request instead of the client's request (its `buffer`
 * option): nothing. The client's body was read whole before the first attempt, and #onProxyReq
 * writes it and ends the upstream request. Piping the client request, read and ended by then,
 * cost every attempt half a dozen listeners, a resume and two turns of the event loop only to
 * call end().
 */
const WRITTEN_BY_SLUICE = { pipe: () => undefined } as unknown as Stream;

/** Events http-proxy adds a client request listener for on every attempt; what it added is removed when the attempt settles. */
type PerAttemptEvent = 'aborted' | 'error';

/** What a backend did when it answered with a protocol switch, or closed without any response Node's client could hand on. */
const UNASKED_UPGRADE = 'the backend switched protocols (101) or closed the request without a response';

const CONNECT_TIMEOUT = 'ESLUICE_CONNECT_TIMEOUT';
const FIRST_BYTE_TIMEOUT = 'ESLUICE_FIRST_BYTE_TIMEOUT';
const FIRST_TOKEN_TIMEOUT = 'ESLUICE_FIRST_TOKEN_TIMEOUT';

/** Classifies a proxy error into the failure reasons Sluice reports and retries on. */
export function failureReason(err: NodeJS.ErrnoException): FailureReason {
  switch (err.code) {
    case CONNECT_TIMEOUT:
    case FIRST_BYTE_TIMEOUT:
    case 'ETIMEDOUT':
      return 'timeout';
    case FIRST_TOKEN_TIMEOUT:
      return 'first_token_timeout';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return 'reset';
    default:
      // llhttp's parse errors: the backend answered something that is not HTTP.
      return err.code?.startsWith('HPE_') ? 'protocol_error' : 'connect_error';
  }
}

/**
 * One backend behind http-proxy-middleware, with its own keep-alive agent. The middleware is
 * driven one attempt at a time by the forwarder: request bodies are replayed from the buffer,
 * and responses are handed back unsent (selfHandleResponse) so that the forwarder can retry on
 * a bad status before anything reaches the client.
 */
export class Upstream {
  readonly #middleware: RequestHandler;
  readonly #freshMiddleware: RequestHandler;
  readonly #agent: http.Agent;
  readonly #idleSockets: IdleSocketSweeper;
  readonly #pending = new WeakMap<IncomingMessage, PendingAttempt>();
  #timeouts: UpstreamTimeouts;
  readonly #authorization: () => string | undefined;
  /** Attempts through this upstream whose request or response is still open. */
  #inFlight = 0;
  #retired = false;
  #closed = false;
  /** The server's `close` listeners both http-proxy-middleware instances added (removed on close). */
  #serverListeners: { server: Server; listeners: ServerListener[] } | undefined;
  /** The middleware instances whose first request has been watched for the listeners they add. */
  readonly #listenersSeen = new Set<RequestHandler>();

  /** `authorization`: read at every attempt, so a reloaded credential applies at once. */
  constructor(target: URL, timeouts: UpstreamTimeouts, authorization: () => string | undefined = () => undefined) {
    this.#timeouts = timeouts;
    this.#authorization = authorization;
    const agentOptions = { keepAlive: true, keepAliveMsecs: 1000, scheduling: 'lifo' as const, noDelay: true };
    this.#agent = target.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.#idleSockets = new IdleSocketSweeper(this.#agent, { idleMs: IDLE_SOCKET_MS, everyMs: IDLE_SWEEP_MS }).start();
    this.#middleware = this.#createMiddleware(target, this.#agent);
    // No agent: http-proxy then opens a new connection for the request and closes it after.
    this.#freshMiddleware = this.#createMiddleware(target, undefined);
  }

  #createMiddleware(target: URL, agent: http.Agent | undefined): RequestHandler {
    return createProxyMiddleware<IncomingMessage, ServerResponse>({
      target: proxyTarget(target),
      agent,
      changeOrigin: true,
      selfHandleResponse: true,
      buffer: WRITTEN_BY_SLUICE,
      // Sluice handles errors, logging and headers itself; the default plugins would write HTML errors.
      ejectPlugins: true,
      plugins: [(proxy) => {
        proxy.on('proxyReq', (proxyReq, req) => this.#onProxyReq(proxyReq, req));
        proxy.on('proxyRes', (proxyRes, req) => {
          const pending = this.#pending.get(req);
          const proxyReq = pending?.proxyReq;
          if (!proxyReq) {
            proxyRes.destroy();
            return;
          }
          // Sluice never asks a backend to switch protocols (Upgrade is hop-by-hop): a 101 is no
          // answer a client can be given. (Node passes one on as a response when it names no
          // Upgrade; with one, see the request's 'close' in #onProxyReq.)
          if (proxyRes.statusCode === 101) {
            proxyRes.destroy();
            proxyReq.destroy();
            return this.#settle(req, { kind: 'failed', reason: 'protocol_error', error: new Error(UNASKED_UPGRADE), sent: true });
          }
          this.#settle(req, { kind: 'response', proxyRes, proxyReq, writtenAt: pending.writtenAt, receivedAt: performance.now() });
        });
        proxy.on('error', (err, req) => this.#onError(err as NodeJS.ErrnoException, req));
        proxy.on('econnreset', (_err, req) => this.#settle(req, { kind: 'client_gone' }));
      }],
    });
  }

  /** Sends the request to this backend; resolves at response headers, failure, or client disconnect. */
  attempt(req: IncomingMessage, res: ServerResponse, request: AttemptRequest): Promise<AttemptResult> {
    this.#inFlight++;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      this.#inFlight--;
      // A retired upstream closes with its last attempt (a late retry may still have used it).
      if (this.#retired && this.#inFlight === 0) this.close();
    };
    return new Promise<AttemptResult>((resolve) => {
      let settled = false;
      const limit = headersLimit(this.#timeouts.firstByteMs, request.firstTokenMs);
      const firstByte = setTimeout(() => {
        const pending = this.#pending.get(req);
        pending?.proxyReq?.destroy(codeError(limit.code, `${limit.what} within ${Math.round(limit.ms)}ms`));
        if (!pending?.proxyReq) this.#settle(req, { kind: 'failed', reason: limit.reason, error: codeError(limit.code, limit.what), sent: false });
      }, limit.ms);
      const onClientClose = () => {
        if (res.writableFinished) return;
        this.#pending.get(req)?.proxyReq?.destroy();
        this.#settle(req, { kind: 'client_gone' });
      };
      res.once('close', onClientClose);
      const abortedBefore = req.listenerCount('aborted');
      const errorBefore = req.listenerCount('error');
      this.#pending.set(req, {
        request,
        connected: false,
        settle: (r) => {
          if (settled) return;
          settled = true;
          clearTimeout(firstByte);
          res.off('close', onClientClose);
          this.#pending.delete(req);
          // A response stays in flight until its body has been read or dropped.
          if (r.kind === 'response' && !r.proxyRes.destroyed && !r.proxyRes.complete) r.proxyRes.once('close', end);
          else end();
          removeAddedListeners(req, 'aborted', abortedBefore);
          removeAddedListeners(req, 'error', errorBefore);
          resolve(r);
        },
      });
      // Node has already answered the client's `Expect: 100-continue`; forwarded, the header would
      // make http-proxy skip its proxyReq event, so the buffered body would never be written.
      // (Deleted only when present: a delete turns the headers object into a slower dictionary.)
      if (req.headers.expect !== undefined) delete req.headers.expect;
      const middleware = request.fresh ? this.#freshMiddleware : this.#middleware;
      const before = this.#listenersSeen.has(middleware) ? undefined : serverOf(req);
      const closeListeners = before?.listeners('close');
      // The middleware calls next() only when it did not proxy the request: Sluice's failure, not the backend's.
      const proxied = middleware(req, res, (err?: unknown) => {
        this.#settle(req, { kind: 'not_forwarded', error: err instanceof Error ? err : new Error('the proxy engine did not forward the request') });
      });
      // Only an instance's first request is watched for the server listeners it adds.
      if (before && closeListeners) void proxied.finally(() => this.#claimListeners(middleware, before, closeListeners));
    });
  }

  /** Timeouts from a reloaded configuration; the agent and its sockets stay. */
  setTimeouts(timeouts: UpstreamTimeouts): void {
    this.#timeouts = timeouts;
  }

  /** Attempts whose request or response is still open. */
  get inFlight(): number {
    return this.#inFlight;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * This upstream will take no new attempts (its endpoint left, or its URL changed): it closes
   * as soon as its own in-flight attempts and streams have ended, at once when there are none.
   */
  retire(): void {
    this.#retired = true;
    if (this.#inFlight === 0) this.close();
  }

  /**
   * Closes the agent's sockets and removes what both middleware instances added to the server.
   * The fresh-connection instance owns no agent: its connections close with their response.
   */
  close(): void {
    this.#closed = true;
    this.#idleSockets.stop();
    this.#agent.destroy();
    this.#removeListeners();
  }

  #removeListeners(): void {
    if (!this.#serverListeners) return;
    const { server, listeners } = this.#serverListeners;
    for (const l of listeners) server.off('close', l as (...args: unknown[]) => void);
    this.#serverListeners = undefined;
  }

  /**
   * http-proxy-middleware subscribes each instance to the server's `close` event on its first
   * request and offers no way to unsubscribe. The listeners that appeared during that first
   * request are remembered, so close() can remove them. (They only close http-proxy's own
   * listening server, which Sluice never starts, so removing one is harmless either way.)
   */
  #claimListeners(middleware: RequestHandler, server: Server, before: ServerListener[]): void {
    if (this.#listenersSeen.has(middleware)) return;
    this.#listenersSeen.add(middleware);
    const added = server.listeners('close').filter((l) => !before.includes(l) && !claimed.has(l));
    for (const l of added) claimed.add(l);
    const listeners = this.#serverListeners?.server === server ? [...this.#serverListeners.listeners, ...added] : added;
    this.#serverListeners = { server, listeners };
    if (this.#closed) this.#removeListeners();
  }

  #settle(req: IncomingMessage, result: AttemptResult): void {
    this.#pending.get(req)?.settle(result);
  }

  #onError(err: NodeJS.ErrnoException, req: IncomingMessage): void {
    const pending = this.#pending.get(req);
    if (!pending) return; // a late error from an attempt already given up on
    const reused = pending.proxyReq?.reusedSocket ?? false;
    if (reused && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) return this.#settle(req, { kind: 'stale_socket', error: err });
    this.#settle(req, { kind: 'failed', reason: failureReason(err), error: err, sent: pending.connected });
  }

  #onProxyReq(proxyReq: ClientRequest, req: IncomingMessage): void {
    const pending = this.#pending.get(req);
    if (!pending) {
      proxyReq.destroy();
      return;
    }
    pending.proxyReq = proxyReq;
    proxyReq.once('finish', () => (pending.writtenAt = performance.now()));
    // A request that closes with neither a response nor an error: Node's client does that when a
    // backend answers 101 Switching Protocols (with an Upgrade) to a request that asked for none,
    // and the first-byte timer, which destroys the request, can no longer end the attempt.
    proxyReq.once('close', () => {
      if (this.#pending.get(req) === pending) this.#settle(req, { kind: 'failed', reason: 'protocol_error', error: new Error(UNASKED_UPGRADE), sent: true });
    });
    const { body, requestId, headers } = pending.request;
    // Hop-by-hop headers describe the client's connection; the agent sets its own `Connection`.
    // Only the names the client sent are looked at (a few), not every name that might be dropped:
    // http-proxy copied them all to the upstream request, adding only `Host` and, on a connection
    // of its own (no agent), `Connection: close`, which stays.
    const hopByHop = hopByHopNames(req.headers);
    for (const name in req.headers) if (hopByHop.has(name) || CLIENT_ADDRESS_NAMES.has(name)) proxyReq.removeHeader(name);
    proxyReq.setHeader('x-request-id', requestId);
    const authorization = this.#authorization();
    if (authorization) proxyReq.setHeader('authorization', authorization);
    // An empty value removes the header (a client's forged X-Forwarded-*, see forwardedHeaders).
    for (const name in headers) {
      const value = headers[name];
      if (value) proxyReq.setHeader(name, value);
      else proxyReq.removeHeader(name);
    }
    const socket = proxyReq.socket as Socket | null;
    if (socket?.connecting) {
      // Both listeners go once either fires: a pooled socket outlives its first request, and a
      // listener left on it would keep that request (its body, its client's response) for the
      // socket's whole life.
      const timer = setTimeout(() => proxyReq.destroy(codeError(CONNECT_TIMEOUT, `connect timeout after ${this.#timeouts.connectMs}ms`)), this.#timeouts.connectMs);
      // A TLS connection is made once its handshake is: until then the request is only buffered
      // here (a handshake that stalls is a connect timeout, and the request did not reach the backend).
      const connected = socket instanceof TLSSocket ? 'secureConnect' : 'connect';
      const onConnect = () => {
        clearTimeout(timer);
        socket.off('close', onClose);
        pending.connected = true;
      };
      const onClose = () => {
        clearTimeout(timer);
        socket.off(connected, onConnect);
      };
      socket.once(connected, onConnect);
      socket.once('close', onClose);
    } else {
      pending.connected = true;
    }
    // The client's body was read once into a buffer; every attempt replays it, and ends the request (see WRITTEN_BY_SLUICE).
    if (body.length > 0 || req.headers['content-length'] !== undefined) {
      proxyReq.setHeader('content-length', body.length);
      proxyReq.removeHeader('transfer-encoding');
      proxyReq.end(body);
    } else proxyReq.end();
  }
}

type ServerListener = ReturnType<Server['listeners']>[number];

/** Removes the listeners for `event` added to `req` since it had `before` of them (none to remove: nothing is allocated). */
function removeAddedListeners(req: IncomingMessage, event: PerAttemptEvent, before: number): void {
  if (req.listenerCount(event) <= before) return;
  for (const listener of req.listeners(event).slice(before)) req.off(event, listener as (...args: unknown[]) => void);
}

/** Server `close` listeners already attributed to an upstream. */
const claimed = new WeakSet<object>();

function serverOf(req: IncomingMessage): Server | undefined {
  return (req.socket as Socket & { server?: Server }).server;
}

/** How long the response headers may take: first_byte_timeout, or the first-token deadline when that is sooner. */
function headersLimit(firstByteMs: number, firstTokenMs: number | undefined): { ms: number; code: string; reason: FailureReason; what: string } {
  if (firstTokenMs !== undefined && firstTokenMs < firstByteMs) return { ms: firstTokenMs, code: FIRST_TOKEN_TIMEOUT, reason: 'first_token_timeout', what: 'no first token' };
  return { ms: firstByteMs, code: FIRST_BYTE_TIMEOUT, reason: 'timeout', what: 'no response' };
}

function codeError(code: string, message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  err.code = code;
  return err;
}
