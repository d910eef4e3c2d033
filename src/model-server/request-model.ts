import { modelNotFound, sendError, type ApiFamily } from './api-errors.js';
import type { RequestContext } from './routes.js';

/**
 * The served model a request names in its `model` field. Answers 400 (missing) or 404 (not served)
 * itself and returns undefined in those cases.
 */
export function requireModel(ctx: RequestContext, family: ApiFamily): string | undefined {
  const model = ctx.body?.model;
  if (typeof model !== 'string' || model === '') {
    sendError(ctx.res, family, { status: 400, message: 'model is required', param: 'model' }, ctx.app.serverId);
    return undefined;
  }
  if (!ctx.app.models.includes(model)) {
    sendError(ctx.res, family, modelNotFound(family, model), ctx.app.serverId);
    return undefined;
  }
  return model;
}

/** Sends a 400 for an invalid request field. */
export function badRequest(ctx: RequestContext, family: ApiFamily, message: string, param?: string): void {
  sendError(ctx.res, family, { status: 400, message, ...(param ? { param } : {}) }, ctx.app.serverId);
}

/** Texts to embed: a string or a non-empty array of strings. */
export function embeddingInputs(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'string')) return value as string[];
  return undefined;
}
