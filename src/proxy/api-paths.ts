/**
 * The API paths whose bodies and streams Sluice reads (beyond forwarding them), and how a
 * request's path is matched against them: with or without a query, and, where said, the paths
 * under them.
 */
export const API = {
  openaiChat: '/v1/chat/completions',
  openaiCompletions: '/v1/completions',
  responses: '/v1/responses',
  anthropicMessages: '/v1/messages',
  ollamaChat: '/api/chat',
  ollamaGenerate: '/api/generate',
} as const;

/**
 * Paths that count a prompt's tokens without generating (the Messages API's `count_tokens`, the
 * Responses API's `input_tokens`): their answers carry an `input_tokens` that no model consumed.
 */
const TOKEN_COUNTING = [`${API.anthropicMessages}/count_tokens`, `${API.responses}/input_tokens`];

/** Whether `path` only counts tokens (see TOKEN_COUNTING). */
export function countsTokensOnly(path: string): boolean {
  return TOKEN_COUNTING.some((api) => isApi(path, api));
}

/**
 * Of a path under `/v1/responses/`, its first segment (a response's id, or one of the API's own
 * paths such as `input_tokens`) and whether more segments follow it (`/input_items`); undefined for
 * any other path.
 */
export function responsesSegment(path: string): { readonly segment: string; readonly more: boolean } | undefined {
  const from = API.responses.length + 1;
  if (!path.startsWith(API.responses) || path[from - 1] !== '/') return undefined;
  let end = from;
  while (end < path.length && path[end] !== '/' && path[end] !== '?') end++;
  return { segment: path.slice(from, end), more: path[end] === '/' };
}

/** `path` is `api` itself, with or without a query. */
export function isApi(path: string, api: string): boolean {
  return path.startsWith(api) && (path.length === api.length || path[api.length] === '?');
}

/** `path` is `api`, or a path under it (`api/...`), with or without a query. */
export function isApiOrUnder(path: string, api: string): boolean {
  return path.startsWith(api) && (path.length === api.length || path[api.length] === '?' || path[api.length] === '/');
}
