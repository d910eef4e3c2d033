import { ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import type { PromptFacts, RouteDecision } from '../balancing/index.js';
import type { Endpoint } from '../endpoints/index.js';
import type { FailureReason } from '../telemetry/index.js';
import { API, isApi } from './api-paths.js';
import type { ApiFlavour } from './errors.js';

/** A client request once its body has been read; what every attempt replays. */
export interface ProxiedRequest {
  readonly id: string;
  readonly startedAt: number; // performance.now()
  readonly body: Buffer;
  /** How long its body took to read: the client's upload, left out of Sluice's own time. */
  readonly uploadMs: number;
  readonly model: string | undefined; // as the client named it
  readonly json: unknown; // the decoded body, when it is JSON
  /**
   * The trace context the request arrived in (the server span's, when traced), captured when it
   * arrived and passed along explicitly: attempt spans are its children.
   */
  readonly traceContext: Context;
  /**
   * It waited before it could be routed: for its turn behind others pipelined on its connection,
   * or for the fleet's model lists (the start-up warm-up, a reload's re-pointed endpoint). Its
   * time in Sluice holds that wait, which is not Sluice's own time: none is observed for it.
   */
  readonly waited?: boolean;
}

/**
 * A request Sluice answers itself before its body was read or a span started for it (a CONNECT,
 * a request the parser refused, an unmet `Expect`): no body, no model, no trace.
 */
export function untracedRequest(id: string): ProxiedRequest {
  return { id, startedAt: performance.now(), traceContext: ROOT_CONTEXT, body: Buffer.alloc(0), uploadMs: 0, model: undefined, json: undefined };
}

/** What the request path knows about one client request across its attempts. */
export interface RequestState {
  readonly req: ProxiedRequest;
  readonly flavour: ApiFlavour;
  readonly catalogModel: string | undefined;
  readonly modelLabel: string;
  readonly operation: string;
  /** The body asks for a streamed answer (see asksForStream): the first-token deadline may apply. */
  readonly streamRequested: boolean;
  readonly tried: Set<string>;
  attempts: number;
  lastFailure?: { reason: FailureReason; error: Error };
  /** The endpoint whose half-open trial this request holds, if any: only it may release the trial. */
  trialOf?: Endpoint;
  /** Prompt blocks and token estimate, when the body has a prompt. */
  readonly prompt?: PromptFacts;
  /** How the current attempt's endpoint was chosen. */
  decision?: RouteDecision<Endpoint>;
}

/**
 * Writes the headers every answer to a proxied request carries (its request id and how many
 * attempts it took) into `headers`, over any of the same name, and returns it.
 */
export function withOwnHeaders<H extends Record<string, string | number | string[] | undefined>>(headers: H, state: RequestState): H {
  (headers as Record<string, string>)['x-sluice-request-id'] = state.req.id;
  (headers as Record<string, string>)['x-sluice-attempts'] = String(state.attempts);
  return headers;
}

export { CLIENT_CLOSED } from '../telemetry/index.js';

/** The GenAI operation a path performs (span names and attributes). */
export function operationName(path: string): string {
  if (path.startsWith(API.openaiChat) || path.startsWith(API.ollamaChat) || isApi(path, API.anthropicMessages)) return 'chat';
  if (path.startsWith('/v1/completions') || path.startsWith('/api/generate')) return 'text_completion';
  if (path.startsWith('/v1/embeddings') || path.startsWith('/api/embed')) return 'embeddings';
  return 'proxy';
}
