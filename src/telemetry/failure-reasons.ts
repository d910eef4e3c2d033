/**
 * Why an upstream attempt failed: the `reason` label of the failure and retry counters, the
 * error type on spans and the reason in logs. One list; the type is derived from it.
 * `protocol_error`: the backend answered something that is not HTTP. `stream_cut`: the response
 * had started and the backend closed it, or went silent past the idle timeout, before its end,
 * or ended a stream without the end marker its API promises (`data: [DONE]`, `"done": true`).
 * `first_token_timeout`: a streamed request's first token did not come within
 * `proxy.first_token_timeout`, and the attempt was cancelled before anything reached the client.
 * `stream_error`: the backend ended a stream whole but with an error in place of the rest of the
 * answer (the Responses API's `response.failed`, the Messages API's `error` event, an error chunk
 * before `data: [DONE]`, Ollama's last line `{"error": ...}`), which the client's SDK raises.
 */
export const FAILURE_REASONS = ['connect_error', 'timeout', 'reset', 'protocol_error', 'http_5xx', 'http_429', 'stream_cut', 'first_token_timeout', 'stream_error'] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** HTTP status of a request whose client went away before its answer: 499 (nginx's convention). */
export const CLIENT_CLOSED = 499;
