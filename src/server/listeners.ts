import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SluiceConfig } from '../config/index.js';
import type { Logger, SluiceMetrics } from '../telemetry/index.js';
import { InFlight } from './in-flight.js';
import { closingQueued } from './turns.js';

/** The longest a shutdown waits for the requests it cut to be recorded. */
const CUT_RECORDED_MS = 1000;

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;
/** The proxy port's listener returns the id it gave the request (logged if it is cut at shutdown). */
type ProxyListener = (req: IncomingMessage, res: ServerResponse) => string | void;

export interface ListenersOptions {
  /** `server.*` at start (changes take effect after a restart). */
  readonly server: SluiceConfig['server'];
  /** The proxy port's request listener; its requests are tracked for a graceful shutdown. */
  readonly proxy: ProxyListener;
  /**
   * The proxy port's answers to what never becomes a request: a request Node's HTTP parser
   * refused or timed out (`clientError`), CONNECT, and an `Expect` other than 100-continue
   * (`checkExpectation`). Node's defaults: a bare 400 with no body, a closed connection and a bare
   * 417, none counted or logged.
   */
  readonly refusals?: {
    clientError(err: NodeJS.ErrnoException, socket: Duplex): void;
    connect(req: IncomingMessage, socket: Duplex): void;
    expectation(req: IncomingMessage, res: ServerResponse): void;
  };
  /** A second port of its own (`server.admin_port`), its listener, and its answer to what its parser refuses (Node's default: a bare 400). */
  readonly admin?: { readonly port: number; readonly listener: RequestListener; readonly clientError?: (err: NodeJS.ErrnoException, socket: Duplex) => void };
  readonly logger: Logger;
  readonly metrics: Pick<SluiceMetrics, 'shutdownCut'>;
}

export interface Listeners {
  /** Base URL of the proxy port, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  /** Base URL of the admin port (same as url without one). */
  readonly adminUrl: string;
  /**
   * Stops listening at once, lets the requests and streams in flight finish for `graceMs`, then
   * cuts what is left (logged and counted) and closes both ports. Resolves with the number cut.
   */
  close(graceMs: number): Promise<number>;
  /** Ends a running close's grace period now. */
  endGrace(): void;
}

/** Listens on the proxy port, and on the admin port when there is one. */
export async function startListeners(opts: ListenersOptions): Promise<Listeners> {
  const { server: settings, logger } = opts;
  const inFlight = new InFlight();
  // A pipelined request's response queued behind another is closed if its connection closes first (see closingQueued).
  const listener = inFlight.track(closingQueued(opts.proxy));
  const server = http.createServer(serverOptions(settings), listener);
  // `Expect: 100-continue` goes to the same listener, which sends the 100 when it reads the body
  // (see readBody) rather than Node before anything was looked at: a request refused without its
  // body (over limits.max_body, no API key, a path not forwarded) gets no 100 first, and its client
  // does not start an upload only to have the connection closed under it.
  server.on('checkContinue', listener);
  server.maxConnections = settings.max_connections;
  // Node's closeIdleConnections (the drain's sweep, and server.close() calls it too) takes a
  // connection for idle as soon as its response has ended, even while the end of that response
  // is still being written to a client that reads slowly, and destroys it: the response is cut
  // short, and is not counted as cut. While a response is being written, the idle connections
  // wait for the next sweep (or the end of the drain).
  const closeIdle = server.closeIdleConnections.bind(server);
  server.closeIdleConnections = () => {
    if (!inFlight.writing) closeIdle();
  };
  if (opts.refusals) {
    server.on('clientError', opts.refusals.clientError);
    server.on('connect', opts.refusals.connect);
    server.on('checkExpectation', opts.refusals.expectation);
  }
  const url = await listen(server, settings.host, settings.port);
  let adminServer: http.Server | undefined;
  let adminUrl = url;
  if (opts.admin) {
    adminServer = http.createServer(serverOptions(settings), opts.admin.listener);
    if (opts.admin.clientError) adminServer.on('clientError', opts.admin.clientError);
    adminUrl = await listen(adminServer, settings.host, opts.admin.port);
  }
  return {
    url,
    adminUrl,
    async close(grace) {
      logger.info('shutting down', { in_flight: inFlight.size, grace_ms: grace });
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const cut = await inFlight.drain(server, grace);
      if (cut.length > 0) {
        opts.metrics.shutdownCut(cut.length);
        for (const r of cut) logger.warn('request cut at shutdown', r);
        logger.warn('shutdown grace period over; requests cut', { cut: cut.length, grace_ms: grace });
      }
      server.closeAllConnections();
      // The cut requests are recorded (counted, an access-log line each) before the process goes.
      if (cut.length > 0) await inFlight.settled(CUT_RECORDED_MS);
      await closed;
      if (adminServer) await closeServer(adminServer);
      return cut.length;
    },
    endGrace: () => inFlight.endGrace(),
  };
}

/** Client-side limits (slowloris, connection floods) from `server.*`. */
function serverOptions(settings: SluiceConfig['server']): http.ServerOptions {
  const { headers_timeout: headersTimeout, request_timeout: requestTimeout } = settings;
  return {
    keepAliveTimeout: 65_000,
    // An HTTP/1.1 request without Host is refused by the listeners themselves (see lacksHost), in
    // JSON, counted and logged; Node's own check answered a bare 400 that nothing recorded.
    requireHostHeader: false,
    headersTimeout,
    requestTimeout,
    // How often Node looks for connections past those timeouts (its default is 30 s).
    connectionsCheckingInterval: Math.min(5000, Math.max(100, Math.floor(headersTimeout / 4))),
  };
}

function listen(server: http.Server, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address() as AddressInfo;
      const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address;
      resolve(`http://${shownHost}:${addr.port}`);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
