import type { ServerResponse } from 'node:http';
import { sendJson } from './http-io.js';

/** Which API a route belongs to decides how its errors look, so each client can parse them. */
export type ApiFamily = 'openai' | 'ollama' | 'plain';

export interface ApiError {
  readonly status: number;
  readonly message: string;
  /** OpenAI `code`, e.g. "model_not_found". */
  readonly code?: string;
  /** OpenAI `param`, the request field at fault. */
  readonly param?: string;
}

function openAiType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 429) return 'rate_limit_error';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}

export function errorBody(family: ApiFamily, error: ApiError, serverId: string): Record<string, unknown> {
  if (family === 'openai') {
    return {
      error: { message: error.message, type: openAiType(error.status), param: error.param ?? null, code: error.code ?? null },
      server_id: serverId,
    };
  }
  return { error: error.message, server_id: serverId };
}

export function sendError(res: ServerResponse, family: ApiFamily, error: ApiError, serverId: string): void {
  sendJson(res, error.status, errorBody(family, error, serverId));
}

export function modelNotFound(family: ApiFamily, model: string): ApiError {
  return family === 'openai'
    ? { status: 404, message: `The model '${model}' does not exist`, code: 'model_not_found', param: 'model' }
    : { status: 404, message: `model '${model}' not found` };
}
