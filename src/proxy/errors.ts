import type { IncomingMessage, ServerResponse } from 'node:http';
import { API, isApiOrUnder } from './api-paths.js';

export type SluiceErrorCode =
  | 'model_not_found'
  | 'model_lists_pending'
  | 'no_routable_endpoint'
  | 'endpoints_busy'
  | 'body_too_large'
  | 'invalid_json'
  | 'invalid_request'
  | 'malformed_request'
  | 'headers_too_large'
  | 'request_timeout'
  | 'expectation_failed'
  | 'method_not_allowed'
  | 'path_not_allowed'
  | 'not_found'
  | 'client_closed'
  | 'client_stalled'
  | 'upstream_unreachable'
  | 'upstream_timeout'
  | 'first_token_timeout'
  | 'upstream_error'
  | 'internal_error'
  | 'invalid_api_key'
  | 'unauthorized'
  | 'forbidden'
  | 'rate_limit_exceeded'
  | 'too_many_pipelined'
  | 'overloaded';

const STATUS: Record<SluiceErrorCode, number> = {
  model_not_found: 404,
  // No endpoint is known to serve the model, but some endpoint's models are not known yet: try later.
  model_lists_pending: 503,
  no_routable_endpoint: 503,
  endpoints_busy: 503,
  body_too_large: 413,
  invalid_json: 400,
  invalid_request: 400,
  // Refused by Node's HTTP parser, or by its client timeouts, before there was a request to forward.
  malformed_request: 400,
  headers_too_large: 431,
  request_timeout: 408,
  // An `Expect` other than 100-continue (RFC 9110, 10.1.1): not met, and the request not forwarded.
  expectation_failed: 417,
  method_not_allowed: 405,
  path_not_allowed: 404,
  not_found: 404,
  client_closed: 499,
  client_stalled: 499,
  upstream_unreachable: 502,
  upstream_timeout: 504,
  first_token_timeout: 504,
  upstream_error: 502,
  internal_error: 500,
  invalid_api_key: 401,
  unauthorized: 401,
  forbidden: 403,
  rate_limit_exceeded: 429,
  // More requests pipelined on one connection than may wait their turn there.
  too_many_pipelined: 429,
  // The request bodies held in memory are at limits.max_body_total: no one client's fault.
  overloaded: 503,
};

/** One error type for everything Sluice itself answers; mapped to HTTP in `sendError` only. */
export class SluiceError extends Error {
  readonly code: SluiceErrorCode;
  readonly status: number;
  /** Seconds for a Retry-After header (503s). */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: SluiceErrorCode, message: string, options: { cause?: unknown; retryAfterSeconds?: number } = {}) {
    super(message, { cause: options.cause });
    this.name = 'SluiceError';
    this.code = code;
    this.status = STATUS[code];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** Which API shape a client on this path expects its errors in. */
export type ApiFlavour = 'openai' | 'ollama' | 'anthropic';

export function apiFlavour(path: string): ApiFlavour {
  if (path.startsWith('/api/')) return 'ollama';
  if (isApiOrUnder(path, API.anthropicMessages)) return 'anthropic';
  return 'openai';
}

const OPENAI_TYPES: Partial<Record<SluiceErrorCode, string>> = {
  model_not_found: 'invalid_request_error',
  body_too_large: 'invalid_request_error',
  invalid_json: 'invalid_request_error',
  invalid_request: 'invalid_request_error',
  malformed_request: 'invalid_request_error',
  headers_too_large: 'invalid_request_error',
  request_timeout: 'invalid_request_error',
  expectation_failed: 'invalid_request_error',
  method_not_allowed: 'invalid_request_error',
  path_not_allowed: 'invalid_request_error',
  not_found: 'invalid_request_error',
  client_closed: 'invalid_request_error',
  client_stalled: 'invalid_request_error',
  invalid_api_key: 'invalid_request_error',
  unauthorized: 'invalid_request_error',
  forbidden: 'invalid_request_error',
  rate_limit_exceeded: 'requests',
  too_many_pipelined: 'requests',
};

/** The Anthropic Messages API's error types, by status (its SDK picks its error classes by status, and shows the type). */
function anthropicType(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
      return 'overloaded_error';
    default:
      return status < 500 ? 'invalid_request_error' : 'api_error';
  }
}

/**
 * Body of an error as the client's API would write it: OpenAI `{error:{...}}`, Ollama
 * `{error:"..."}` or Anthropic `{type:"error",error:{type,message}}`.
 */
export function errorBody(err: SluiceError, flavour: ApiFlavour): Record<string, unknown> {
  if (flavour === 'ollama') return { error: err.message };
  if (flavour === 'anthropic') return { type: 'error', error: { type: anthropicType(err.status), message: err.message } };
  return {
    error: {
      message: err.message,
      type: OPENAI_TYPES[err.code] ?? 'server_error',
      param: err.code === 'model_not_found' ? 'model' : null,
      code: err.code,
    },
  };
}

/**
 * Writes a JSON error unless the response has already started (then it can only be cut).
 * Returns the body bytes sent, for the access log (none for a cut response or a HEAD).
 */
export function sendError(req: IncomingMessage, res: ServerResponse, err: SluiceError, extraHeaders: Record<string, string> = {}): number {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return 0;
  }
  const body = JSON.stringify(errorBody(err, apiFlavour(req.url ?? '/')));
  const length = Buffer.byteLength(body);
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': length, ...extraHeaders };
  if (err.retryAfterSeconds !== undefined) headers['retry-after'] = String(err.retryAfterSeconds);
  res.writeHead(err.status, headers);
  res.end(body);
  return req.method === 'HEAD' ? 0 : length;
}
