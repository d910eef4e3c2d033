import type { IncomingHttpHeaders } from 'node:http';
import type { GapObserver } from '../telemetry/index.js';

// JSON keys under which OpenAI (chat `content`, completions `text`, tool call `arguments`, the
// Responses API's string `delta`), reasoning models (vLLM and DeepSeek `reasoning_content`,
// `reasoning`), Ollama (`response`, chat `content`, `thinking`) and the Anthropic Messages API
// (`text`, `thinking`, a tool call's `partial_json`) stream generated text, with and without a
// space after the colon; a value counts when it is a non-empty string. (Chat's `delta` is an
// object, never a string.)
const STRING_KEYS = ['content', 'text', 'response', 'arguments', 'delta', 'reasoning_content', 'reasoning', 'thinking', 'partial_json'].flatMap((k) => [`"${k}":"`, `"${k}": "`]);
// A tool call's first chunk (OpenAI's carries the function name, Ollama's the whole call): a
// non-empty `tool_calls` array counts whatever follows; so does an Anthropic tool call's opening
// block, which carries its name.
const OPENING_KEYS = ['"tool_calls":[{', '"tool_calls": [{', '"type":"tool_use"', '"type": "tool_use"'];
const KEYS = [...STRING_KEYS.map((k) => ({ key: Buffer.from(k), string: true })), ...OPENING_KEYS.map((k) => ({ key: Buffer.from(k), string: false }))];
/** The longest key: how much of a chunk's end is kept to find a key split across two chunks. */
const LONGEST_KEY = Math.max(...KEYS.map((k) => k.key.length));
/**
 * The bytes the keys are made of. A key that crosses from one chunk into the next, or ends a
 * chunk, holds that chunk's last byte; a chunk that ends otherwise (an SSE event's blank line, an
 * NDJSON line's end) leaves nothing to look for across the seam.
 */
const KEY_BYTES = new Uint8Array(256);
for (const { key } of KEYS) for (const byte of key) KEY_BYTES[byte] = 1;
const QUOTE = 0x22;

/**
 * Whether `chunk` (part of an SSE or NDJSON stream) carries generated content: a key above
 * whose value is visible in the chunk and not empty. A key that ends the chunk, its value not
 * yet arrived, does not count here (see TokenTiming, which looks again with the next chunk).
 * Only the first `length` bytes are read, and only keys ending at or after `endsFrom` counted.
 */
export function carriesContent(chunk: Buffer, endsFrom = 0, length = chunk.length): boolean {
  for (const { key, string } of KEYS) {
    for (let at = chunk.indexOf(key); at !== -1 && at + key.length <= length; at = chunk.indexOf(key, at + key.length)) {
      const next = at + key.length;
      if (next < endsFrom) continue;
      if (!string) return true;
      if (next < length && chunk[next] !== QUOTE) return true;
    }
  }
  return false;
}

/** Whether a response is a token stream: SSE or NDJSON. */
export function isStreamed(headers: IncomingHttpHeaders): boolean {
  const type = headers['content-type'] ?? '';
  return type.includes('text/event-stream') || type.includes('ndjson');
}

/**
 * Whether a response's body is compressed (a `Content-Encoding` other than identity): its bytes
 * cannot be searched for tokens or usage. Sluice asks backends for identity; this is a backend
 * that compressed anyway.
 */
export function isEncoded(headers: IncomingHttpHeaders): boolean {
  const encoding = headers['content-encoding'];
  return encoding !== undefined && encoding !== '' && encoding.toLowerCase() !== 'identity';
}

/**
 * Time to first token and the gaps between tokens of one response, as its chunks pass by.
 * A stream's first token is the first SSE event or NDJSON line carrying generated content (a
 * role-only first chunk does not count); a response that is not streamed has its first token
 * when its body ends. The gaps are those between chunks that carry content (usage, `[DONE]` and
 * keep-alive comments are not tokens), less any time the backend was paused because the client
 * was not reading: a slow client is not the backend's doing. Costs one search per chunk and one
 * observation per token; nothing is allocated per chunk. A compressed body has no first token
 * Sluice can see: none is recorded (rather than a wrong one).
 */
export class TokenTiming {
  readonly #streamed: boolean;
  readonly #opaque: boolean;
  readonly #gaps: GapObserver;
  #firstTokenAt: number | undefined;
  #lastAt = 0;
  /** The end of the last chunk and the start of the next, joined: a key split between two chunks. */
  #seam: Buffer | undefined;
  #tail = 0;
  /** The backend was paused for the client since the last token: the next gap is not the backend's. */
  #resumed = false;

  constructor(headers: IncomingHttpHeaders, gaps: GapObserver) {
    this.#streamed = isStreamed(headers);
    this.#opaque = isEncoded(headers);
    this.#gaps = gaps;
  }

  /** Whether the response is a stream (SSE or NDJSON, see isStreamed): the `stream` label of its observations. */
  get streamed(): boolean {
    return this.#streamed;
  }

  chunk(data: Buffer, now: number): void {
    if (!this.#streamed || this.#opaque) return;
    const token = this.#acrossSeam(data) || carriesContent(data);
    // Kept either way: a chunk can end with the start of the next token's key.
    this.#keepTail(data);
    if (!token) return;
    if (this.#firstTokenAt === undefined) this.#firstTokenAt = now;
    else if (!this.#resumed) this.#gaps.observe((now - this.#lastAt) / 1000);
    this.#resumed = false;
    this.#lastAt = now;
  }

  /** The backend, paused while the client was not reading, reads on: the gap to the next token is not counted. */
  resumed(): void {
    this.#resumed = true;
  }

  /** Whether a key that began in the last chunk (or ended it) has its non-empty value in this one. */
  #acrossSeam(data: Buffer): boolean {
    if (this.#tail === 0 || !this.#seam) return false;
    const head = Math.min(data.length, LONGEST_KEY + 1);
    data.copy(this.#seam, this.#tail, 0, head);
    // Keys ending within the last chunk's own bytes had their value there, and were looked at then.
    // The seam is read in place, up to what it now holds (no view made per chunk).
    return carriesContent(this.#seam, this.#tail, this.#tail + head);
  }

  #keepTail(data: Buffer): void {
    if (data.length === 0) return;
    if (KEY_BYTES[data[data.length - 1]!] === 0) {
      this.#tail = 0;
      return;
    }
    this.#seam ??= Buffer.alloc(2 * LONGEST_KEY + 1);
    // A chunk shorter than a key: what came before it is kept too, in front of it.
    const keep = Math.min(LONGEST_KEY, data.length + (data.length < LONGEST_KEY ? this.#tail : 0));
    if (data.length >= keep) data.copy(this.#seam, 0, data.length - keep);
    else {
      this.#seam.copyWithin(0, this.#tail - (keep - data.length), this.#tail);
      data.copy(this.#seam, keep - data.length);
    }
    this.#tail = keep;
  }

  /** The body ended complete at `now`. */
  end(now: number): void {
    if (!this.#streamed && !this.#opaque) this.#firstTokenAt = now;
  }

  /** performance.now() of the first token, if one came. */
  get firstTokenAt(): number | undefined {
    return this.#firstTokenAt;
  }
}
