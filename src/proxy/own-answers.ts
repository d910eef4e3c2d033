import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { NO_MODEL_LABEL } from '../discovery/index.js';
import { apiFlavour, sendError, type ApiFlavour, type SluiceError } from './errors.js';
import type { ModelAnswers } from './model-answers.js';
import type { RequestObserver } from './observe.js';
import { operationName, untracedRequest, withOwnHeaders, type ProxiedRequest, type RequestState } from './request-state.js';
import { answeredOnSocket, answerOnSocket, markAnsweredOnSocket, responseInProgress } from './unparsed.js';

/**
 * What Sluice answers itself rather than a backend: errors, refusals and the unified model
 * lists. Each is counted and logged like any request.
 */
export class OwnAnswers {
  readonly #observer: RequestObserver;
  readonly #models: ModelAnswers;

  constructor(observer: RequestObserver, models: ModelAnswers) {
    this.#observer = observer;
    this.#models = models;
  }

  /** Answers a request with an error of Sluice's (no endpoint, a refusal, a bad body). */
  fail(req: IncomingMessage, res: ServerResponse, state: RequestState, err: SluiceError): void {
    // The parser refused the rest of this request and answered on its socket: that is its answer.
    const answered = answeredOnSocket(res) ?? { err, bytes: sendError(req, res, err, withOwnHeaders({}, state)) };
    // Every endpoint tried missed the first-token deadline: a stream that never had its first token.
    const firstTokenMissed = answered.err.code === 'first_token_timeout';
    this.#observer.finish(req, state, { endpoint: undefined, code: answered.err.status, bytes: answered.bytes, usage: {}, error: answered.err.code, firstTokenMissed });
  }

  /** Answers a request that failed before routing (bad body). */
  reject(req: IncomingMessage, res: ServerResponse, preq: ProxiedRequest, err: SluiceError): void {
    this.fail(req, res, unroutedState(req.url ?? '/', preq), err);
  }

  /** Answers a unified model list (`/v1/models`, `/api/tags`), or says it is not known yet (see ModelAnswers). */
  modelList(req: IncomingMessage, res: ServerResponse, preq: ProxiedRequest): void {
    const state = unroutedState(req.url ?? '/', preq);
    const pending = this.#models.listsPending(state.flavour);
    if (pending) return this.fail(req, res, state, pending);
    const body = Buffer.from(JSON.stringify(this.#models.list(state.flavour)));
    const head = req.method === 'HEAD';
    res.writeHead(200, withOwnHeaders({ 'content-type': 'application/json; charset=utf-8', 'content-length': body.length }, state));
    res.end(head ? undefined : body);
    this.#observer.finish(req, state, { endpoint: undefined, code: 200, bytes: head ? 0 : body.length, usage: {} });
  }

  /** Answers on a bare socket (a request Node's HTTP parser refused, or a CONNECT: `req` is then what was parsed). */
  refuseOnSocket(socket: Duplex, err: SluiceError, req?: IncomingMessage): void {
    const earlier = responseInProgress(socket);
    const bytes = answerOnSocket(socket, err, earlier);
    // A request whose response is in progress on this connection is counted by its own path,
    // with this error when it was written in that response's place (bytes: it was).
    if (earlier) {
      if (bytes > 0) markAnsweredOnSocket(earlier, { err, bytes });
      return;
    }
    // Answered in the OpenAI shape whatever the path (see answerOnSocket).
    const state = unroutedState(req?.url ?? '', untracedRequest(randomUUID()), 'openai');
    this.#observer.finish({ method: req?.method, url: req?.url }, state, { endpoint: undefined, code: err.status, bytes, usage: {}, error: err.code });
  }
}

/** The state of a request to `path` that Sluice answers without routing it: no model, no attempt. */
function unroutedState(path: string, preq: ProxiedRequest, flavour: ApiFlavour = apiFlavour(path)): RequestState {
  return { req: preq, flavour, catalogModel: undefined, modelLabel: NO_MODEL_LABEL, operation: operationName(path), streamRequested: false, tried: new Set(), attempts: 0 };
}
