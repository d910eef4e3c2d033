import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody, SluiceError } from './errors.js';
import type { Forwarder } from './forwarder.js';
import { requestIdFor } from './headers.js';
import { untracedRequest } from './request-state.js';

/**
 * What a request Node's HTTP parser refused is answered with (a bad method, Content-Length or
 * chunk size, both Content-Length and Transfer-Encoding, headers over the limit, a request that
 * did not arrive within server.headers_timeout / request_timeout); undefined when there is no
 * one to answer (the client reset the connection).
 */
export function parserRefusal(err: NodeJS.ErrnoException): SluiceError | undefined {
  if (err.code === 'ECONNRESET') return undefined;
  // The connection ended part-way through a request: the client left (nothing is written back).
  if (err.code === 'HPE_INVALID_EOF_STATE') return new SluiceError('client_closed', 'the client closed the connection before its request was complete');
  if (err.code === 'HPE_HEADER_OVERFLOW') return new SluiceError('headers_too_large', 'the request headers are larger than Sluice accepts');
  if (err.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return new SluiceError('body_too_large', 'the chunk extensions of the request body are larger than Sluice accepts');
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new SluiceError('request_timeout', 'the request did not arrive in time (server.headers_timeout, server.request_timeout)');
  return new SluiceError('malformed_request', `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'})`);
}

/** A CONNECT request: Sluice is a reverse proxy, not a tunnel. */
export function connectRefusal(): SluiceError {
  return new SluiceError('method_not_allowed', 'CONNECT is not supported: Sluice is a reverse proxy');
}

/** An `Expect` Sluice cannot meet: only 100-continue is (Node answers it before the request is read). */
export function expectationRefusal(req: IncomingMessage): SluiceError {
  const expect = String(req.headers.expect ?? '').slice(0, 64);
  return new SluiceError('expectation_failed', `the expectation ${JSON.stringify(expect)} cannot be met (only 100-continue is supported)`);
}

/**
 * Writes the error on a socket that has no response object of its own (the parser refused the
 * request, or it was a CONNECT), in the OpenAI shape since the path may not be known, then
 * closes it, as Node does by default. Nothing is written when a response already in progress on
 * the connection has started (bytes of this one would corrupt it), nor to a client that left.
 * Returns the body bytes written.
 */
export function answerOnSocket(socket: Duplex, err: SluiceError, inFlight = responseInProgress(socket)): number {
  let bytes = 0;
  if (socket.writable && !inFlight?.headersSent && err.code !== 'client_closed') {
    const body = JSON.stringify(errorBody(err, 'openai'));
    bytes = Buffer.byteLength(body);
    socket.write(`HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${bytes}\r\nconnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
  return bytes;
}

/** What was written on the socket in place of a response whose head had not gone out (see answeredOnSocket). */
export interface SocketAnswer {
  readonly err: SluiceError;
  readonly bytes: number;
}

const socketAnswers = new WeakMap<ServerResponse, SocketAnswer>();

/**
 * Marks a response whose request the parser refused part-way (a bad chunk, the body not arriving
 * within server.request_timeout): the error was written on its socket instead, and the request's
 * own path, which only sees the connection close, records that error rather than a client that left.
 */
export function markAnsweredOnSocket(res: ServerResponse, answer: SocketAnswer): void {
  socketAnswers.set(res, answer);
}

/** The error written on the socket in place of this response, if any (see markAnsweredOnSocket). */
export function answeredOnSocket(res: ServerResponse): SocketAnswer | undefined {
  return socketAnswers.get(res);
}

/**
 * The response of an earlier request still being written on this connection, if any: that
 * request is counted and logged by its own path. Node keeps it on the socket as `_httpMessage`
 * (its own default handler reads the same property).
 */
export function responseInProgress(socket: Duplex): ServerResponse | undefined {
  return (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;
}

/**
 * The proxy port's handlers for what never becomes a forwarded request (parser refusals,
 * CONNECT, an unmet `Expect`), answering through the forwarder of the moment (counted and logged
 * like any request).
 */
export function socketRefusals(forwarder: () => Pick<Forwarder, 'refuseOnSocket' | 'reject'>) {
  return {
    clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
      // Bytes after a request that said `Connection: close`: RFC 9112 (9.6) has the server answer
      // that request, then close, processing nothing more. Answering a 400 in its place, as Node
      // does by default, threw away its answer (and cut its upstream request); destroying the
      // socket could cut the end of an answer still being written. Nothing more is read.
      if (err.code === 'HPE_CLOSED_CONNECTION') return ignoreAfterClose(socket);
      const refusal = parserRefusal(err);
      if (refusal) forwarder().refuseOnSocket(socket, refusal);
      else socket.destroy();
    },
    connect(req: IncomingMessage, socket: Duplex): void {
      forwarder().refuseOnSocket(socket, connectRefusal(), req);
    },
    expectation(req: IncomingMessage, res: ServerResponse): void {
      // Its body, if any, is not read: the connection closes after the answer.
      res.setHeader('connection', 'close');
      forwarder().reject(req, res, untracedRequest(requestIdFor(req)), expectationRefusal(req));
    },
  };
}

/**
 * The admin port's (`server.admin_port`) answer to a request its parser refused: the same JSON
 * as the proxy port's, not counted, as its requests are not. Node's default was a bare 400.
 */
export function adminClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'HPE_CLOSED_CONNECTION') return ignoreAfterClose(socket);
  const refusal = parserRefusal(err);
  if (refusal) answerOnSocket(socket, refusal);
  else socket.destroy();
}

/** Connections past a `Connection: close` request whose end is watched (see ignoreAfterClose). */
const closing = new WeakSet<Duplex>();

/**
 * After a request that said `Connection: close`, the connection carries nothing more: its answer is
 * written (or on its way), after which Node closes the connection. What else the client sends is
 * dropped unanswered. A client that then ends its side has left, as Node takes it on any
 * connection: its answer in progress is cut. With no answer in progress, the connection is closed
 * once what was written has gone out.
 */
function ignoreAfterClose(socket: Duplex): void {
  if (!responseInProgress(socket)) {
    (socket as Duplex & { destroySoon?: () => void }).destroySoon?.();
    return;
  }
  if (closing.has(socket)) return;
  closing.add(socket);
  socket.once('end', () => socket.destroy());
}
