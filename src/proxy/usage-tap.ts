/** Token counts and the answering model as read from a backend's response. */
export interface Usage {
  inputTokens?: number;
  outputTokens?: number;
  responseModel?: string;
}

const HEAD_BYTES = 2048;
const TAIL_BYTES = 8192;

// OpenAI puts `usage` at the end of a JSON body or in the last SSE chunk (stream_options.include_usage);
// Ollama puts prompt_eval_count/eval_count in its final NDJSON object. Both fit in the tail.
const OPENAI_INPUT = /"prompt_tokens"\s*:\s*(\d+)/g;
const OPENAI_OUTPUT = /"completion_tokens"\s*:\s*(\d+)/g;
const OLLAMA_INPUT = /"prompt_eval_count"\s*:\s*(\d+)/g;
const OLLAMA_OUTPUT = /"eval_count"\s*:\s*(\d+)/g;
const MODEL = /"model"\s*:\s*"([^"\\]{1,200})"/;

/** Chunks kept as they came before the tail moves to a ring: a response that is not streamed never needs one. */
const CHUNKS_BEFORE_RING = 4;

/**
 * Watches a response stream without holding it: keeps only its first and last few KiB, and reads
 * usage from them at the end, so a long generation costs a constant amount of memory and little
 * time per chunk. The first chunks are kept as they came (no copy); from the fifth on, the tail
 * is copied into one ring buffer per response, rather than holding the last 8 KiB as the chunks
 * themselves (dozens of small buffers per stream, each surviving several young-generation
 * collections before it was dropped).
 */
export class UsageTap {
  readonly #head: Buffer[] = [];
  #headBytes = 0;
  /** The first chunks, until the ring takes over. */
  readonly #chunks: Buffer[] = [];
  #ring: Buffer | undefined;
  /** Bytes written into the ring so far (its write position is this modulo its size). */
  #ringWritten = 0;

  push(chunk: Buffer): void {
    if (this.#headBytes < HEAD_BYTES) {
      const part = chunk.length > HEAD_BYTES - this.#headBytes ? chunk.subarray(0, HEAD_BYTES - this.#headBytes) : chunk;
      this.#head.push(part);
      this.#headBytes += part.length;
    }
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
  #tail(): Buffer {
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

  result(): Usage {
    const tail = this.#tail();
    const text = tail.toString('utf8');
    const usage: Usage = {};
    usage.inputTokens = lastNumber(OPENAI_INPUT, text, '"prompt_tokens"') ?? lastNumber(OLLAMA_INPUT, text, '"prompt_eval_count"');
    usage.outputTokens = lastNumber(OPENAI_OUTPUT, text, '"completion_tokens"') ?? lastNumber(OLLAMA_OUTPUT, text, '"eval_count"');
    // A response no longer than the head is all in the tail as well: decoded once.
    const whole = this.#head.length === 1 && this.#head[0] === tail;
    usage.responseModel = MODEL.exec(whole ? text : Buffer.concat(this.#head, this.#headBytes).toString('utf8'))?.[1];
    return usage;
  }
}

/** The last number `re` captures in `text`; `key` (the field's quoted name) is looked for first, which is cheaper than a scan that finds nothing. */
function lastNumber(re: RegExp, text: string, key: string): number | undefined {
  if (!text.includes(key)) return undefined;
  let last: string | undefined;
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) last = m[1];
  return last === undefined ? undefined : Number(last);
}
