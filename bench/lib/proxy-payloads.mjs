// The bodies every row of the proxy benchmark sends and answers, defined once.

/** The model every backend lists, so that Sluice's catalog routes the benchmark's requests. */
export const MODEL = 'bench';

export const MODELS_BODY = JSON.stringify({ object: 'list', data: [{ id: MODEL, object: 'model', owned_by: 'bench' }] });

export const HEALTH_BODY = '{"status":"ok"}';

/** The fixed answer to a non-streamed request (about 230 bytes). */
export const COMPLETION_BODY = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 0,
  model: MODEL,
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
});

/** The small JSON POST of the throughput, latency and failover runs. */
export const REQUEST_BODY = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Say ok.' }], max_tokens: 1 });

export const REQUEST_PATH = '/v1/chat/completions';

/** A streamed request: the backend sends `chunks` events, one every `intervalMs`. */
export function streamRequestBody(chunks, intervalMs) {
  return JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'Count.' }], bench: { chunks, interval_ms: intervalMs } });
}
