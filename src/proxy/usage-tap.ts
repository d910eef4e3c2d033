import { LastEventHead } from './end-marker.js';
import { firstString, valueStart } from './json-bytes.js';

/** Token counts and the answering model as read from a backend's response. */
export interface Usage {
  inputTokens?: number;
  outputTokens?: number;
  responseModel?: string;
}

const HEAD_BYTES = 2048;
const TAIL_BYTES = 8192;

// OpenAI puts `usage` at the end of a JSON body or in the last SSE chunk (stream_options.include_usage),
// as prompt_tokens/completion_tokens, or in the Responses API as input_tokens/output_tokens (in
// the body, or the final `response.completed` event); Ollama puts prompt_eval_count/eval_count in
// its final NDJSON object. All fit in the tail. The Anthropic Messages API streams input_tokens
// in its first event (`message_start`) and output_tokens in its last but one (`message_delta`):
// an input count missing from the tail is looked for in the head. They are looked for in the bytes, as
// `"name" : 123`: nothing is decoded but the model's name.
const OPENAI_INPUT = Buffer.from('"prompt_tokens"');
const OPENAI_OUTPUT = Buffer.from('"completion_tokens"');
const RESPONSES_INPUT = Buffer.from('"input_tokens"');
const RESPONSES_OUTPUT = Buffer.from('"output_tokens"');
const OLLAMA_INPUT = Buffer.from('"prompt_eval_count"');
const OLLAMA_OUTPUT = Buffer.from('"eval_count"');
const MODEL = Buffer.from('"model"');
/** The longest model name read, in characters. */
const MODEL_MAX = 200;

/** Chunks kept as they came before the tail moves to a ring: a response that is not streamed never needs one. */
const CHUNKS_BEFORE_RING = 4;

/**
 * Watches a response stream without holding it: keeps only its first and last few KiB, and reads
 * usage from them at the end, so a long generation costs a constant amount of memory and little
 * time per chunk. The first chunks are kept as they came (no copy); from the fifth on, the tail
 * is copied into one ring buffer per response, and from the second on, the head into one buffer
 * of HEAD_BYTES, rather than holding the first 2 KiB and the last 8 KiB as the chunks themselves
 * (dozens of small buffers per stream, each with its own memory outside the heap, surviving
 * young-generation collections for as long as the stream lasts).
 */
export class UsageTap {
  /** The first chunk, kept as it came while it is the only one (a response that is not streamed). */
  #first: Buffer | undefined;
  /** The first HEAD_BYTES, copied, once a second chunk came while there was room. */
  #head: Buffer | undefined;
  #headBytes = 0;
  /** The first chunks, until the ring takes over. */
  readonly #chunks: Buffer[] = [];
  #ring: Buffer | undefined;
  /** Bytes written into the ring so far (its write position is this modulo its size). */
  #ringWritten = 0;
  /** The first bytes of the stream's last event, when asked for (see watchEvents). */
  #events: LastEventHead | undefined;
  /** lastBytes() as last put together, until the next chunk: read up to three times at a stream's end. */
  #tail: Buffer | undefined;
  /** Shown the first bytes as they grow, until it says it has what it wanted (see watchHead). */
  #headWatcher: ((head: Buffer) => boolean) | undefined;

  /**
   * Shows `watcher` the response's first bytes (at most HEAD_BYTES) each time a chunk adds to
   * them, before that chunk goes on to the client, until it returns true.
   */
  watchHead(watcher: (head: Buffer) => boolean): void {
    this.#headWatcher = watcher;
  }

  /** Keeps the first bytes of the last server-sent event as well, from now on: the Responses API's end marker is read there. */
  watchEvents(): void {
    this.#events = new LastEventHead();
  }

  /** The first bytes of the last event, when watched (see watchEvents). */
  lastEventHead(): Buffer | undefined {
    return this.#events?.bytes();
  }

  push(chunk: Buffer): void {
    this.#tail = undefined;
    this.#events?.push(chunk);
    if (this.#headBytes < HEAD_BYTES) this.#keepHead(chunk);
    if (!this.#ring) {
      if (this.#chunks.length < CHUNKS_BEFORE_RING) {
        this.#chunks.push(chunk);
        return;
      }
      this.#ring = Buffer.allocUnsafe(TAIL_BYTES);
      for (const kept of this.#chunks.splice(0)) this.#write(kept);
    }
    this.#write(chunk);
  }

  #keepHead(chunk: Buffer): void {
    const room = HEAD_BYTES - this.#headBytes;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (this.#headBytes === 0) {
      this.#first = part;
    } else {
      if (!this.#head) {
        this.#head = Buffer.allocUnsafe(HEAD_BYTES);
        this.#first!.copy(this.#head);
        this.#first = undefined;
      }
      part.copy(this.#head, this.#headBytes);
    }
    this.#headBytes += part.length;
    if (this.#headWatcher?.(this.firstBytes()!)) this.#headWatcher = undefined;
  }

  /** Copies the last TAIL_BYTES of `data` into the ring. */
  #write(data: Buffer): void {
    const ring = this.#ring!;
    const part = data.length > TAIL_BYTES ? data.subarray(data.length - TAIL_BYTES) : data;
    const at = this.#ringWritten % TAIL_BYTES;
    const first = Math.min(part.length, TAIL_BYTES - at);
    part.copy(ring, at, 0, first);
    if (first < part.length) part.copy(ring, 0, first);
    this.#ringWritten += part.length;
  }

  /** The last bytes of the response (at most TAIL_BYTES), in order. */
  lastBytes(): Buffer {
    this.#tail ??= this.#collectTail();
    return this.#tail;
  }

  #collectTail(): Buffer {
    const ring = this.#ring;
    if (!ring) {
      // A response that is not streamed is most often one chunk: read in place, not copied.
      const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
      return all.length > TAIL_BYTES ? all.subarray(all.length - TAIL_BYTES) : all;
    }
    if (this.#ringWritten < TAIL_BYTES) return ring.subarray(0, this.#ringWritten);
    const at = this.#ringWritten % TAIL_BYTES;
    return Buffer.concat([ring.subarray(at), ring.subarray(0, at)]);
  }

  /** The first bytes of the response (at most HEAD_BYTES); undefined before any. */
  firstBytes(): Buffer | undefined {
    return this.#head ? this.#head.subarray(0, this.#headBytes) : this.#first;
  }

  result(): Usage {
    const tail = this.lastBytes();
    const head = this.firstBytes();
    const usage: Usage = {};
    usage.inputTokens = lastNumber(tail, OPENAI_INPUT) ?? lastNumber(tail, OLLAMA_INPUT) ?? lastNumber(tail, RESPONSES_INPUT) ?? (head && firstNumber(head, RESPONSES_INPUT));
    usage.outputTokens = lastNumber(tail, OPENAI_OUTPUT) ?? lastNumber(tail, OLLAMA_OUTPUT) ?? lastNumber(tail, RESPONSES_OUTPUT);
    usage.responseModel = head && firstString(head, MODEL, MODEL_MAX);
    return usage;
  }
}

/**
 * Digits a token count may have: a trillion tokens is beyond any real request. A backend that
 * sends more (a 310-digit count reads as Infinity, which a counter refuses) has its count ignored.
 */
const MAX_COUNT_DIGITS = 12;

/** The digits of the last `"name": 123` in `data`, as a number; undefined when there is none, or it is no plausible count. */
function lastNumber(data: Buffer, key: Buffer): number | undefined {
  for (let found = data.lastIndexOf(key); found !== -1; found = found === 0 ? -1 : data.lastIndexOf(key, found - 1)) {
    const value = countAt(data, found + key.length);
    if (value !== null) return value;
  }
  return undefined;
}

/** The digits of the first `"name": 123` in `data`, as lastNumber reads them. */
function firstNumber(data: Buffer, key: Buffer): number | undefined {
  for (let found = data.indexOf(key); found !== -1; found = data.indexOf(key, found + 1)) {
    const value = countAt(data, found + key.length);
    if (value !== null) return value;
  }
  return undefined;
}

/** The count after a key that ends at `keyEnd`: null when no digits follow (look further), undefined when they are no plausible count. */
function countAt(data: Buffer, keyEnd: number): number | undefined | null {
  let at = valueStart(data, keyEnd);
  if (at === -1) return null;
  let value = 0;
  const first = at;
  for (; at < data.length && data[at]! >= 0x30 && data[at]! <= 0x39; at++) value = value * 10 + (data[at]! - 0x30);
  if (at - first > MAX_COUNT_DIGITS) return undefined;
  return at > first ? value : null;
}
