import type { IncomingHttpHeaders } from 'node:http';
import type { GapObserver } from '../telemetry/index.js';

// JSON keys under which OpenAI (chat `content`, completions `text`, tool call `arguments`, the
// Responses API's string `delta`) and Ollama (`response`, chat `content`) stream generated text,
// with and without a space after the colon. (Chat's `delta` is an object, never a string.)
const CONTENT_KEYS = ['"content":"', '"content": "', '"text":"', '"text": "', '"response":"', '"response": "', '"arguments":"', '"arguments": "', '"delta":"', '"delta": "'].map((k) => Buffer.from(k));
const QUOTE = 0x22;

/** Whether a chunk of an SSE or NDJSON stream carries generated content (a non-empty string under a content key). */
export function carriesContent(chunk: Buffer): boolean {
  for (const key of CONTENT_KEYS) {
    for (let at = chunk.indexOf(key); at !== -1; at = chunk.indexOf(key, at + key.length)) {
      const next = at + key.length;
      // At a chunk's very end the value is cut off: count it, the token is on its way.
      if (next >= chunk.length || chunk[next] !== QUOTE) return true;
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
 * when its body ends. Costs one search per chunk until the first token, then one observation
 * per chunk; nothing is allocated per chunk. A compressed body has no first token Sluice can
 * see: none is recorded (rather than a wrong one).
 */
export class TokenTiming {
  readonly #streamed: boolean;
  readonly #opaque: boolean;
  readonly #gaps: GapObserver;
  #firstTokenAt: number | undefined;
  #lastAt = 0;

  constructor(headers: IncomingHttpHeaders, gaps: GapObserver) {
    this.#streamed = isStreamed(headers);
    this.#opaque = isEncoded(headers);
    this.#gaps = gaps;
  }

  chunk(data: Buffer, now: number): void {
    if (!this.#streamed || this.#opaque) return;
    if (this.#firstTokenAt === undefined) {
      if (carriesContent(data)) this.#firstTokenAt = this.#lastAt = now;
      return;
    }
    this.#gaps.observe((now - this.#lastAt) / 1000);
    this.#lastAt = now;
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
