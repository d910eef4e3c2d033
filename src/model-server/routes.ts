import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError, type ApiFamily } from './api-errors.js';
import type { FaultController } from './fault.js';
import { sleep } from './http-io.js';
import type { SimulatedFleet } from './engine/index.js';
import type { LoadedModels, ModelLoader } from './model-loader.js';
import type { ResponseStore } from './responses-api.js';
import type { TokenSource } from './token-source.js';

/** Server-wide state shared by all handlers. */
export interface AppState {
  readonly serverId: string;
  readonly models: readonly string[];
  /** Produces generated tokens in time (paced, or the simulated engine). */
  readonly tokens: TokenSource;
  /** Extra wait before the model lists answer (MODEL_LIST_DELAY); 0 normally. */
  readonly modelListDelayMs: number;
  /** Clock time until which the model lists answer 503 (start + MODEL_LIST_FAIL_FOR); the start normally. */
  readonly modelListFailUntil: number;
  /** The simulated engines when ENGINE=sim: their metrics and resident models. */
  readonly fleet: SimulatedFleet | undefined;
  /** Epoch milliseconds when the server started, for model timestamps. */
  readonly startedAt: number;
  readonly faults: FaultController;
  readonly loader: ModelLoader;
  /** The Responses API's stored responses (this server's own). */
  readonly responses: ResponseStore;
  readonly now: () => number;
  readonly log: (entry: Record<string, unknown>) => void;
  readonly onCrash: () => void;
}

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** Parsed JSON body of a POST (always a JSON object); undefined for GET. */
  readonly body: Record<string, unknown> | undefined;
  /** Fires if the client disconnects before the response is complete. */
  readonly signal: AbortSignal;
  readonly app: AppState;
  /** Extra wait before the first generated token (the `stall` fault); 0 normally. */
  readonly firstTokenStallMs: number;
}

interface RouteBase {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Exact, or ending in `/:id` for any last segment (the handler reads it from the URL). */
  readonly path: string;
  /** Shapes the route's error responses. */
  readonly family: ApiFamily;
}

/**
 * `api` routes are subject to faults and need the models loaded (503 before that); `service` routes
 * are subject to faults but answer while loading; `admin` routes are never affected by faults.
 */
export type Route = RouteBase &
  (
    | { readonly kind: 'api'; handle(ctx: RequestContext, models: LoadedModels): Promise<void> | void }
    | { readonly kind: 'service' | 'admin'; handle(ctx: RequestContext): Promise<void> | void }
  );

/** Current time as the Unix seconds OpenAI uses in `created` fields. */
export function unixSeconds(app: AppState): number {
  return Math.floor(app.now() / 1000);
}

/**
 * What a model list does before it answers: within MODEL_LIST_FAIL_FOR of start it answers 503
 * in the route's API shape; otherwise it waits MODEL_LIST_DELAY. False when it has answered, or
 * the client left meanwhile.
 */
export function modelListGate(ctx: RequestContext, family: ApiFamily): boolean | Promise<boolean> {
  const { app } = ctx;
  if (app.now() < app.modelListFailUntil) {
    sendError(ctx.res, family, { status: 503, message: 'model list not available yet', code: 'model_list_unavailable' }, app.serverId);
    return false;
  }
  return app.modelListDelayMs === 0 || sleep(app.modelListDelayMs, ctx.signal);
}
