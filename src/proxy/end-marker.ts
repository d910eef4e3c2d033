import type { IncomingHttpHeaders } from 'node:http';
import { isEncoded } from './token-timing.js';

/**
 * How a streamed answer says it is whole. `openai`: chat and text completions end their SSE
 * stream with `data: [DONE]`. `ollama`: `/api/chat` and `/api/generate` end their NDJSON stream
 * with an object carrying `"done": true`. A backend that ends the body without it (a worker
 * that died behind a server that still closed the response cleanly, an answer cut by a proxy
 * in between) has cut the answer short, however cleanly the connection ended.
 */
export type EndMarker = 'openai' | 'ollama';

const OPENAI_PATHS = ['/v1/chat/completions', '/v1/completions'];
const OLLAMA_PATHS = ['/api/chat', '/api/generate'];

/**
 * The end marker a response must carry to be whole, by the request's path and the response's
 * type; undefined when Sluice knows none for it (another API, a body that is not streamed or is
 * compressed, the Responses API, whose closing event holds the whole answer and may lie beyond
 * the bytes Sluice keeps).
 */
export function expectedEndMarker(path: string, headers: IncomingHttpHeaders): EndMarker | undefined {
  if (isEncoded(headers)) return undefined;
  const type = headers['content-type'] ?? '';
  if (type.includes('text/event-stream')) return OPENAI_PATHS.some((p) => isPath(path, p)) ? 'openai' : undefined;
  if (type.includes('ndjson')) return OLLAMA_PATHS.some((p) => isPath(path, p)) ? 'ollama' : undefined;
  return undefined;
}

function isPath(path: string, api: string): boolean {
  return path === api || (path.startsWith(api) && (path[api.length] === '?' || path[api.length] === '/'));
}

const DONE = Buffer.from('[DONE]');
const OLLAMA_DONE = [Buffer.from('"done":true'), Buffer.from('"done": true')];
const NEWLINE = 0x0a;

/** Whether the last bytes of a body (see UsageTap.lastBytes) end with `marker`. */
export function endsWithMarker(tail: Buffer, marker: EndMarker): boolean {
  let end = tail.length;
  while (end > 0 && isSpace(tail[end - 1]!)) end--;
  if (end === 0) return false;
  if (marker === 'openai') return end >= DONE.length && tail.subarray(end - DONE.length, end).equals(DONE);
  // The last line: from the newline before it (if the tail holds one) to its end.
  const start = tail.lastIndexOf(NEWLINE, end - 1) + 1;
  const line = tail.subarray(start, end);
  return OLLAMA_DONE.some((done) => line.includes(done));
}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}
