import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlockList } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ResponseDirectory } from '../affinity/index.js';
import type { Selector } from '../balancing/index.js';
import type { SluiceConfig } from '../config/index.js';
import type { ModelCatalog } from '../discovery/index.js';
import type { Endpoint } from '../endpoints/index.js';
import type { LoadBoard } from '../load/index.js';
import type { SluiceMetrics, ModelStats, Logger } from '../telemetry/index.js';
import { Attempt } from './attempt.js';
import { chooseEndpoint, chooseHolder, hasCandidate, holderOf } from './choose.js';
import { apiFlavour, SluiceError } from './errors.js';
import { asksForStream } from './first-token.js';
import { ModelAnswers } from './model-answers.js';
import { OwnAnswers } from './own-answers.js';
import { RequestObserver } from './observe.js';
import { promptBlocks } from './prompt-blocks.js';
import { CLIENT_CLOSED, operationName, type ProxiedRequest, type RequestState } from './request-state.js';
import { Responder } from './respond.js';
import { stickyKey, type StickyKeySource } from './sticky-key.js';
import { namedResponse } from './stored-response.js';
import { TargetPolicy } from './target.js';
import { trustedList } from './trusted-proxies.js';
import { answeredOnSocket } from './unparsed.js';
import type { Upstream } from './upstream.js';

export type { ProxiedRequest } from './request-state.js';

export interface ForwarderDeps {
  readonly config: SluiceConfig;
  readonly endpoints: readonly Endpoint[];
  readonly catalog: ModelCatalog;
  readonly selector: Selector;
  readonly sticky: StickyKeySource | undefined;
  readonly metrics: SluiceMetrics;
  readonly modelStats: ModelStats;
  /** The model label a request's observations go under now (a model may retire while it is in flight). */
  readonly currentLabel?: (label: string) => string;
  readonly logger: Logger;
  /**
   * Seconds a client should wait when nothing is routable: until the next health check of one of
   * `among` (every endpoint when unset), at least 1.
   */
  readonly retryAfterSeconds: (among?: readonly Endpoint[]) => number;
  /** The proxy (agent, timeouts) of an endpoint; owned by the caller so it can outlive a reload. */
  readonly upstreamFor: (endpoint: Endpoint) => Upstream;
  /** The endpoints' reported load; dispatch and completion are recorded on it. */
  readonly load?: LoadBoard;
  /** Which endpoint created which stored response (Responses API follow-ups go there); absent: not followed. */
  readonly storedResponses?: ResponseDirectory;
}

/**
 * The request path: choose an endpoint, run one attempt, and on a failure that happened
 * before anything reached the client, try another endpoint; then stream the response.
 */
export class Forwarder {
  readonly #deps: ForwarderDeps & { readonly trustedProxies: BlockList };
  readonly #observer: RequestObserver;
  readonly #responder: Responder;
  readonly #targets: TargetPolicy;
  readonly #models: ModelAnswers;
  readonly #own: OwnAnswers;

  constructor(deps: ForwarderDeps) {
    this.#deps = { ...deps, trustedProxies: trustedList(deps.config.server.trusted_proxies) };
    this.#observer = new RequestObserver(deps);
    this.#responder = new Responder(deps, this.#observer);
    this.#targets = new TargetPolicy(deps.config.proxy.allowed_paths);
    this.#models = new ModelAnswers(deps);
    this.#own = new OwnAnswers(this.#observer, this.#models);
  }

  /** Why a request cannot be forwarded (its target), before its body is read; undefined when it can. */
  refusal(req: IncomingMessage): SluiceError | undefined {
    return this.#targets.refusal(req.url);
  }

  async handle(req: IncomingMessage, res: ServerResponse, preq: ProxiedRequest): Promise<void> {
    const path = req.url ?? '/';
    const flavour = apiFlavour(path);
    const catalogModel = preq.model === undefined ? undefined : this.#deps.catalog.resolve(preq.model);
    const { balancing } = this.#deps.config;
    // Only prefix-aware routing reads the block hashes; every strategy gets the token estimate.
    const maxBlocks = balancing.strategy === 'prefix-aware' ? balancing.prefix.max_blocks : 0;
    const state: RequestState = {
      req: preq,
      flavour,
      catalogModel,
      modelLabel: this.#deps.catalog.metricLabel(preq.model),
      operation: operationName(path),
      streamRequested: asksForStream(req.method, path, preq.json),
      tried: new Set(),
      attempts: 0,
      prompt: promptBlocks(preq.json, catalogModel, { blockChars: balancing.prefix.block_chars, maxBlocks }, path),
    };
    if (preq.model !== undefined && catalogModel === undefined) return this.#own.fail(req, res, state, this.#models.unknownModel(preq.model, flavour));
    const pool = catalogModel === undefined ? this.#deps.endpoints : this.#deps.catalog.endpointsFor(catalogModel);
    const sticky = this.#deps.sticky ? stickyKey(this.#deps.sticky, req) : undefined;
    const named = this.#deps.storedResponses && namedResponse(path, preq.json);
    // Asked of the replicas' shared store when this process does not know it: the only wait here.
    // A request naming a stored response goes to the endpoint that stores it, and nowhere else.
    const holder = named ? holderOf(pool, await this.#deps.storedResponses!.owner(named)) : undefined;
    const maxAttempts = this.#deps.config.proxy.retries + 1;
    const canRetry = () => holder === undefined && state.attempts < maxAttempts && hasCandidate(pool, state);

    while (state.attempts < maxAttempts) {
      // A client gone while its request waited (the first model listings, an asynchronous rate
      // limit): an attempt would only learn it from a close event that has already fired.
      if (req.socket.destroyed) return this.#observer.finish(req, state, { endpoint: undefined, code: CLIENT_CLOSED, bytes: 0, usage: {}, error: 'client_closed' });
      const choice = holder ? chooseHolder(this.#deps.selector, pool, holder, state) : chooseEndpoint(this.#deps.selector, this.#deps.endpoints, pool, state, sticky);
      if (typeof choice === 'string') return this.#own.fail(req, res, state, this.#noEndpointError(state, choice, preq.model, holder));
      const endpoint = choice.endpoint;
      state.tried.add(endpoint.name);
      state.attempts++;
      state.decision = choice;
      const attempt = new Attempt(this.#deps, state, endpoint);
      this.#observer.routed(state, choice, attempt.span);
      const verdict = await attempt.send(req, res, canRetry);
      const next = verdict.kind === 'response' ? await this.#responder.respond(req, res, state, attempt, verdict, canRetry) : verdict;
      switch (next.kind) {
        case 'retry':
          continue;
        case 'give_up':
          return this.#own.fail(req, res, state, this.#noEndpointError(state, 'none', preq.model));
        case 'client_gone':
          // Unless the parser answered in its place on the socket (what followed it was not HTTP): that is its answer.
          if (answeredOnSocket(res)) return this.#own.fail(req, res, state, new SluiceError('client_closed', 'the client closed the connection'));
          return this.#observer.finish(req, state, { endpoint, code: CLIENT_CLOSED, bytes: 0, usage: {}, error: 'client_closed' });
        case 'internal':
          return this.#own.fail(req, res, state, new SluiceError('internal_error', 'internal error', { cause: next.error }));
        case 'answered':
          return;
      }
    }
    return this.#own.fail(req, res, state, this.#noEndpointError(state, 'none', preq.model));
  }

  /** Answers a unified model list (`/v1/models`, `/api/tags`), or says it is not known yet; counted and logged. */
  answerModelList(req: IncomingMessage, res: ServerResponse, preq: ProxiedRequest): void {
    this.#own.modelList(req, res, preq);
  }

  #noEndpointError(state: RequestState, why: 'none' | 'busy', model: string | undefined, holder?: Endpoint): SluiceError {
    const last = state.lastFailure;
    if (last) {
      const code = last.reason === 'first_token_timeout' ? 'first_token_timeout' : last.reason === 'timeout' ? 'upstream_timeout' : 'upstream_unreachable';
      return new SluiceError(code, `all attempts failed (${state.attempts}); last: ${last.reason}: ${last.error.message}`);
    }
    if (holder) {
      const where = `the endpoint that stores the response named (${holder.name})`;
      if (why === 'busy') return new SluiceError('endpoints_busy', `${where} is at its connection limit`, { retryAfterSeconds: 1 });
      return new SluiceError('no_routable_endpoint', `${where} is not available (${holder.unroutableReason ?? 'its half-open trial is in use'})`, { retryAfterSeconds: this.#deps.retryAfterSeconds([holder]) });
    }
    if (why === 'busy') return new SluiceError('endpoints_busy', 'every endpoint is at its connection limit', { retryAfterSeconds: 1 });
    const scope = model === undefined ? '' : ` serves model '${model}'`;
    return new SluiceError('no_routable_endpoint', `no routable endpoint${scope || ' is available'}`, { retryAfterSeconds: this.#deps.retryAfterSeconds() });
  }

  /** Answers a request that failed before routing (bad body) and still counts and logs it. */
  reject(req: IncomingMessage, res: ServerResponse, preq: ProxiedRequest, err: SluiceError): void {
    this.#own.reject(req, res, preq, err);
  }

  /** Answers on a bare socket (a request Node's HTTP parser refused, or a CONNECT) and counts and logs it. */
  refuseOnSocket(socket: Duplex, err: SluiceError, req?: IncomingMessage): void {
    this.#own.refuseOnSocket(socket, err, req);
  }
}
