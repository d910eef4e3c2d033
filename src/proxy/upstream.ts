import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, ServerResponse, ClientRequest } from 'node:http';
import type { Server, Socket } from 'node:net';
import { createProxyMiddleware, type RequestHandler } from 'http-proxy-middleware';
import type { FailureReason } from '../telemetry/index.js';
import { forwardedHeaders, hopByHopNames } from './headers.js';

export interface UpstreamTimeouts {
  readonly connectMs: number;
  readonly firstByteMs: number;
}

/** What one attempt yields: response headers from the backend (not yet sent on), or a failure. */
export type AttemptResult =
  | { readonly kind: 'response'; readonly proxyRes: IncomingMessage; readonly proxyReq: ClientRequest }
  | { readonly kind: 'failed'; readonly reason: FailureReason; readonly error: Error }
  | { readonly kind: 'client_gone' };

export interface AttemptRequest {
  readonly body: Buffer;
  readonly requestId: string;
  /** Extra headers for this attempt (trace context). */
  readonly headers?: Record<string, string>;
}

interface PendingAttempt {
  readonly request: AttemptRequest;
  readonly settle: (r: AttemptResult) => void;
  proxyReq?: ClientRequest;
}

const CONNECT_TIMEOUT = 'ESLUICE_CONNECT_TIMEOUT';
const FIRST_BYTE_TIMEOUT = 'ESLUICE_FIRST_BYTE_TIMEOUT';

/** Classifies a proxy error into the failure reasons Sluice reports and retries on. */
export function failureReason(err: NodeJS.ErrnoException): FailureReason {
  switch (err.code) {
    case CONNECT_TIMEOUT:
    case FIRST_BYTE_TIMEOUT:
    case 'ETIMEDOUT':
      return 'timeout';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return 'reset';
    default:
      return 'connect_error';
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
  readonly #agent: http.Agent;
  readonly #pending = new WeakMap<IncomingMessage, PendingAttempt>();
  #timeouts: UpstreamTimeouts;
  readonly #authorization: () => string | undefined;
  /** Attempts through this upstream whose request or response is still open. */
  #inFlight = 0;
  #retired = false;
  #closed = false;
  /** The server's `close` listeners http-proxy-middleware added for this instance (removed on close). */
  #serverListeners: { server: Server; listeners: ServerListener[] } | undefined;
  #listenersSeen = false;

  /** `authorization`: read at every attempt, so a reloaded credential applies at once. */
  constructor(target: URL, timeouts: UpstreamTimeouts, authorization: () => string | undefined = () => undefined) {
    this.#timeouts = timeouts;
    this.#authorization = authorization;
    const agentOptions = { keepAlive: true, keepAliveMsecs: 1000, scheduling: 'lifo' as const, noDelay: true };
    this.#agent = target.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.#middleware = createProxyMiddleware<IncomingMessage, ServerResponse>({
      target: target.href,
      agent: this.#agent,
      changeOrigin: true,
      selfHandleResponse: true,
      // Sluice handles errors, logging and headers itself; the default plugins would write HTML errors.
      ejectPlugins: true,
      plugins: [(proxy) => {
        proxy.on('proxyReq', (proxyReq, req) => this.#onProxyReq(proxyReq, req));
        proxy.on('proxyRes', (proxyRes, req) => {
          const proxyReq = this.#pending.get(req)?.proxyReq;
          if (proxyReq) this.#settle(req, { kind: 'response', proxyRes, proxyReq });
          else proxyRes.destroy();
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
      const firstByte = setTimeout(() => {
        const pending = this.#pending.get(req);
        pending?.proxyReq?.destroy(codeError(FIRST_BYTE_TIMEOUT, `no response within ${this.#timeouts.firstByteMs}ms`));
        if (!pending?.proxyReq) this.#settle(req, { kind: 'failed', reason: 'timeout', error: codeError(FIRST_BYTE_TIMEOUT, 'no response') });
      }, this.#timeouts.firstByteMs);
      const onClientClose = () => {
        if (res.writableFinished) return;
        this.#pending.get(req)?.proxyReq?.destroy();
        this.#settle(req, { kind: 'client_gone' });
      };
      res.once('close', onClientClose);
      this.#pending.set(req, {
        request,
        settle: (r) => {
          if (settled) return;
          settled = true;
          clearTimeout(firstByte);
          res.off('close', onClientClose);
          this.#pending.delete(req);
          // A response stays in flight until its body has been read or dropped.
          if (r.kind === 'response' && !r.proxyRes.destroyed && !r.proxyRes.complete) r.proxyRes.once('close', end);
          else end();
          resolve(r);
        },
      });
      // Node has already answered the client's `Expect: 100-continue`; forwarded, the header would
      // make http-proxy skip its proxyReq event, so the buffered body would never be written.
      delete req.headers.expect;
      const before = this.#listenersSeen ? undefined : serverOf(req);
      const closeListeners = before?.listeners('close');
      void this.#middleware(req, res, (err?: unknown) => {
        this.#settle(req, { kind: 'failed', reason: 'connect_error', error: err instanceof Error ? err : new Error(String(err)) });
      }).finally(() => {
        if (before && closeListeners) this.#claimListeners(before, closeListeners);
      });
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

  /** Closes the agent's sockets and removes what the middleware added to the server. */
  close(): void {
    this.#closed = true;
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
  #claimListeners(server: Server, before: ServerListener[]): void {
    if (this.#listenersSeen) return;
    this.#listenersSeen = true;
    const added = server.listeners('close').filter((l) => !before.includes(l) && !claimed.has(l));
    for (const l of added) claimed.add(l);
    this.#serverListeners = { server, listeners: added };
    if (this.#closed) this.#removeListeners();
  }

  #settle(req: IncomingMessage, result: AttemptResult): void {
    this.#pending.get(req)?.settle(result);
  }

  #onError(err: NodeJS.ErrnoException, req: IncomingMessage): void {
    const pending = this.#pending.get(req);
    if (!pending) return; // a late error from an attempt already given up on
    this.#settle(req, { kind: 'failed', reason: failureReason(err), error: err });
  }

  #onProxyReq(proxyReq: ClientRequest, req: IncomingMessage): void {
    const pending = this.#pending.get(req);
    if (!pending) {
      proxyReq.destroy();
      return;
    }
    pending.proxyReq = proxyReq;
    const { body, requestId, headers } = pending.request;
    // Hop-by-hop headers describe the client's connection; the agent sets its own `Connection`.
    for (const name of hopByHopNames(req.headers)) proxyReq.removeHeader(name);
    for (const [k, v] of Object.entries(forwardedHeaders(req))) proxyReq.setHeader(k, v);
    proxyReq.setHeader('x-request-id', requestId);
    const authorization = this.#authorization();
    if (authorization) proxyReq.setHeader('authorization', authorization);
    if (headers) for (const [k, v] of Object.entries(headers)) proxyReq.setHeader(k, v);
    const socket = proxyReq.socket as Socket | null;
    if (socket?.connecting) {
      const timer = setTimeout(() => proxyReq.destroy(codeError(CONNECT_TIMEOUT, `connect timeout after ${this.#timeouts.connectMs}ms`)), this.#timeouts.connectMs);
      socket.once('connect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    }
    // The client's body was read once into a buffer; every attempt replays it.
    if (body.length > 0 || req.headers['content-length'] !== undefined) {
      proxyReq.setHeader('content-length', body.length);
      proxyReq.removeHeader('transfer-encoding');
      proxyReq.write(body);
    }
  }
}

type ServerListener = ReturnType<Server['listeners']>[number];

/** Server `close` listeners already attributed to an upstream. */
const claimed = new WeakSet<object>();

function serverOf(req: IncomingMessage): Server | undefined {
  return (req.socket as Socket & { server?: Server }).server;
}

function codeError(code: string, message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  err.code = code;
  return err;
}
