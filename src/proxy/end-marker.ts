import type { IncomingHttpHeaders } from 'node:http';
import { API, isApi, isApiOrUnder, responsesSegment } from './api-paths.js';
import { isSpace } from './json-bytes.js';
import { isEncoded } from './token-timing.js';

/**
 * How a streamed answer says it is whole. `openai`: chat and text completions end their SSE
 * stream with `data: [DONE]`. `ollama`: `/api/chat` and `/api/generate` end their NDJSON stream
 * with an object carrying `"done": true`. `responses`: the Responses API ends its SSE stream
 * with a closing event, `response.completed` (or `response.incomplete`, `response.failed`, or
 * `error`), and no `[DONE]`. `anthropic`: the Anthropic Messages API (`/v1/messages`, served by
 * vLLM, llama.cpp and Ollama as well) ends its SSE stream with `message_stop` (or `error`). A backend that ends the body without it (a worker that died behind
 * a server that still closed the response cleanly, an answer cut by a proxy in between) has cut
 * the answer short, however cleanly the connection ended.
 */
export type EndMarker = 'openai' | 'ollama' | 'responses' | 'anthropic';

const OPENAI_PATHS = [API.openaiChat, API.openaiCompletions];
const OLLAMA_PATHS = [API.ollamaChat, API.ollamaGenerate];

/**
 * The end marker a response must carry to be whole, by the request's path and the response's
 * type; undefined when Sluice knows none for it (another API, a body that is not streamed or is
 * compressed).
 */
export function expectedEndMarker(path: string, headers: IncomingHttpHeaders): EndMarker | undefined {
  if (isEncoded(headers)) return undefined;
  const type = headers['content-type'] ?? '';
  if (type.includes('text/event-stream')) {
    if (OPENAI_PATHS.some((p) => isApiOrUnder(path, p))) return 'openai';
    // Not the paths under it (`/v1/messages/count_tokens`, `/v1/messages/batches`), which stream nothing.
    if (isApi(path, API.anthropicMessages)) return 'anthropic';
    return isResponseStream(path) ? 'responses' : undefined;
  }
  if (type.includes('ndjson')) return OLLAMA_PATHS.some((p) => isApiOrUnder(path, p)) ? 'ollama' : undefined;
  return undefined;
}

/**
 * A response being created (`/v1/responses`) or a stored one streamed again
 * (`/v1/responses/{id}?stream=true`, which ends with the same closing event); not the paths
 * under a response (`/v1/responses/{id}/input_items`), which stream nothing of the kind.
 */
function isResponseStream(path: string): boolean {
  if (isApi(path, API.responses)) return true;
  const under = responsesSegment(path);
  return under !== undefined && under.segment !== '' && !under.more;
}

const DONE = Buffer.from('[DONE]');
const OLLAMA_DONE = [Buffer.from('"done":true'), Buffer.from('"done": true')];
const NEWLINE = 0x0a;

/**
 * Whether a whole stream (see endsWithMarker) ended by reporting an error rather than an answer:
 * the Responses API's `response.failed` or `error`, the Messages API's `error`, Ollama's last line
 * `{"error": ...}`, or, before `data: [DONE]`, an OpenAI-style chunk that is an error object
 * (`{"error": ...}`, as vLLM sends when generation fails mid-stream, or `{"object": "error", ...}`).
 * The client's SDK raises it.
 */
export function endedWithError(tail: Buffer, marker: EndMarker, lastEventHead?: Buffer): boolean {
  let end = tail.length;
  while (end > 0 && isSpace(tail[end - 1]!)) end--;
  if (closesWithEvent(marker)) return isClosingEvent(FAILING[marker], lastEventHead, tail.subarray(Math.max(0, end - CLOSING_TYPE_WINDOW), end));
  if (marker === 'ollama') return OLLAMA_ERROR.test(lastLine(tail, end).toString('latin1'));
  const done = tail.lastIndexOf(DONE);
  if (done === -1) return false;
  // The event before the one carrying [DONE]: from the blank line before it to the blank line after it.
  let previousEnd = tail.lastIndexOf(NEWLINE, done) + 1;
  while (previousEnd > 0 && isSpace(tail[previousEnd - 1]!)) previousEnd--;
  const blank = Math.max(lastIndexEnd(tail, LF_LF, previousEnd), lastIndexEnd(tail, LF_CRLF, previousEnd));
  // Only its first bytes: where its data's first member is.
  return ERROR_CHUNK.test(tail.toString('latin1', blank, Math.min(previousEnd, blank + CLOSING_TYPE_WINDOW)));
}

/** Where the last `needle` ending at or before `end` in `data` ends; 0 when there is none. */
function lastIndexEnd(data: Buffer, needle: Buffer, end: number): number {
  const at = end < needle.length ? -1 : data.lastIndexOf(needle, end - needle.length);
  return at === -1 ? 0 : at + needle.length;
}

/** An SSE event whose data is an error object: `{"error": ...}` or `{"object": "error", ...}` as its first member. */
const ERROR_CHUNK = /^data: ?\{\s*("error"\s*:|"object"\s*:\s*"error")/m;

/** Whether `marker` is a closing event, read in the first bytes of a stream's last event as well (see LastEventHead). */
export function closesWithEvent(marker: EndMarker): marker is keyof typeof CLOSING {
  return marker in CLOSING;
}

/**
 * Whether a body ends with `marker`: read in its last bytes (see UsageTap.lastBytes), and for a
 * closing event in the first bytes of the last event as well (see LastEventHead): the Responses
 * API's holds the whole answer, and its name may lie far before the last bytes.
 */
export function endsWithMarker(tail: Buffer, marker: EndMarker, lastEventHead?: Buffer): boolean {
  let end = tail.length;
  while (end > 0 && isSpace(tail[end - 1]!)) end--;
  if (end === 0) return false;
  if (marker === 'openai') return end >= DONE.length && tail.subarray(end - DONE.length, end).equals(DONE);
  // The closing event must have ended (at a blank line): an event the stream stops within is never dispatched to the client.
  if (closesWithEvent(marker)) return endsWithBlankLine(tail) && isClosingEvent(CLOSING[marker], lastEventHead, tail.subarray(Math.max(0, end - CLOSING_TYPE_WINDOW), end));
  // Ollama ends a stream with `"done": true`, or, when generation fails, with an error line.
  const line = lastLine(tail, end);
  return OLLAMA_DONE.some((done) => line.includes(done)) || OLLAMA_ERROR.test(line.toString('latin1'));
}

/** The last line of `tail[0, end)`: from the newline before it (if the tail holds one) to `end`. */
function lastLine(tail: Buffer, end: number): Buffer {
  return tail.subarray(tail.lastIndexOf(NEWLINE, end - 1) + 1, end);
}

/** An NDJSON line that is an error object (`{"error": "..."}`), as Ollama ends a stream whose generation failed. */
const OLLAMA_ERROR = /^\s*\{\s*"error"\s*:/;

/**
 * The closing events of the APIs whose streams end with one: those that end an answer, and those
 * that report a failure in its place. The Responses API's: the answer finished or stopped short by
 * a limit; it failed, or an error. The Messages API's: the message ended; an error.
 */
const CLOSING_EVENTS = {
  responses: { answered: ['response.completed', 'response.incomplete'], failed: ['response.failed', 'error'] },
  anthropic: { answered: ['message_stop'], failed: ['error'] },
} as const;

/** How a closing event is recognised: by its `event:` line, or by its data's `type`. */
interface EventPatterns {
  readonly event: RegExp;
  readonly type: RegExp;
}

function eventPatterns(names: readonly string[]): EventPatterns {
  const alternatives = names.map((name) => name.replaceAll('.', '\\.')).join('|');
  return { event: new RegExp(`^event: ?(${alternatives})\\r?$`, 'm'), type: new RegExp(`"type" ?: ?"(${alternatives})"`) };
}

/** Every closing event of each API. */
const CLOSING = {
  responses: eventPatterns([...CLOSING_EVENTS.responses.answered, ...CLOSING_EVENTS.responses.failed]),
  anthropic: eventPatterns([...CLOSING_EVENTS.anthropic.answered, ...CLOSING_EVENTS.anthropic.failed]),
};

/** Of the closing events, those that report a failure rather than an answer. */
const FAILING: Record<keyof typeof CLOSING, EventPatterns> = {
  responses: eventPatterns(CLOSING_EVENTS.responses.failed),
  anthropic: eventPatterns(CLOSING_EVENTS.anthropic.failed),
};

/** How far from the end of the body the last event's `type` is looked for, when it is written after its other fields. */
const CLOSING_TYPE_WINDOW = 128;

/**
 * Whether the last event is a closing one: named so on its `event:` line, or, with no such line,
 * typed so in its data (as its first field, or as its last).
 */
function isClosingEvent(closing: EventPatterns, head: Buffer | undefined, end: Buffer): boolean {
  const text = head?.toString('latin1') ?? '';
  const named = /^event:/m.test(text);
  if (named) return closing.event.test(text);
  return closing.type.test(text) || closing.type.test(end.toString('latin1'));
}

/** The most of an event's first bytes kept: its `event:` line and the start of its data. */
const EVENT_HEAD_BYTES = 128;
const CR = 0x0d;
const COLON = 0x3a;

/**
 * Keeps the first bytes of the last server-sent event of a stream (events end at a blank line),
 * whatever the chunks it came in: a copy of at most EVENT_HEAD_BYTES, whatever the event's length.
 * A block of comment lines alone (`: keep-alive`) dispatches nothing: the event before it stays
 * the last one.
 */
export class LastEventHead {
  readonly #head = Buffer.allocUnsafe(EVENT_HEAD_BYTES);
  #length = 0;
  /** Between blocks (after a blank line), in an event, or in a block of comments. */
  #state: 'between' | 'event' | 'comment' = 'between';
  /** The last chunk ended with a line end (a blank line may span two chunks). */
  #lineEnded = false;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    // A blank line across chunks: the last one ended a line, this one starts with another line end.
    if (this.#lineEnded && (chunk[0] === NEWLINE || (chunk[0] === CR && chunk[1] === NEWLINE))) this.#state = 'between';
    let at = 0;
    while (at < chunk.length) {
      if (this.#state === 'between') {
        // A block starts at its first byte that is not one of the blank line's line ends.
        while (at < chunk.length && (chunk[at] === NEWLINE || chunk[at] === CR)) at++;
        if (at === chunk.length) break;
        if (chunk[at] === COLON) this.#state = 'comment';
        else {
          this.#state = 'event';
          this.#length = 0;
        }
      }
      const blank = nextBlankLine(chunk, at);
      if (this.#state === 'event' && this.#length < EVENT_HEAD_BYTES) this.#length += chunk.copy(this.#head, this.#length, at, Math.min(blank === -1 ? chunk.length : blank, at + EVENT_HEAD_BYTES - this.#length));
      if (blank === -1) break;
      this.#state = 'between';
      at = blank;
    }
    this.#lineEnded = chunk[chunk.length - 1] === NEWLINE;
  }

  /** The first bytes of the last event. */
  bytes(): Buffer {
    return this.#head.subarray(0, this.#length);
  }
}

/** Where the bytes after the first blank line of `chunk` from `from` on begin (`\n\n` or `\n\r\n`), or -1 when there is none. */
function nextBlankLine(chunk: Buffer, from: number): number {
  const lf = chunk.indexOf(LF_LF, from);
  const crlf = chunk.indexOf(LF_CRLF, from);
  if (lf === -1 && crlf === -1) return -1;
  return crlf === -1 || (lf !== -1 && lf < crlf) ? lf + LF_LF.length : crlf + LF_CRLF.length;
}

function endsWithBlankLine(tail: Buffer): boolean {
  const n = tail.length;
  return (n >= 2 && tail[n - 1] === NEWLINE && tail[n - 2] === NEWLINE) || (n >= 3 && tail[n - 1] === NEWLINE && tail[n - 2] === CR && tail[n - 3] === NEWLINE);
}

const LF_LF = Buffer.from('\n\n');
const LF_CRLF = Buffer.from('\n\r\n');

