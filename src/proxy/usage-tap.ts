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

/**
 * Watches a response stream without holding it: keeps only its first and last few KiB, as the
 * chunks it was given (no copy or decoding per chunk), and reads usage from them at the end, so
 * a long generation costs a constant amount of memory and little time per chunk.
 */
export class UsageTap {
  readonly #head: Buffer[] = [];
  #headBytes = 0;
  /** The latest chunks, oldest first, holding at least the last TAIL_BYTES once that many came. */
  readonly #tail: Buffer[] = [];
  #tailBytes = 0;

  push(chunk: Buffer): void {
    if (this.#headBytes < HEAD_BYTES) {
      const part = chunk.length > HEAD_BYTES - this.#headBytes ? chunk.subarray(0, HEAD_BYTES - this.#headBytes) : chunk;
      this.#head.push(part);
      this.#headBytes += part.length;
    }
    const kept = chunk.length > TAIL_BYTES ? chunk.subarray(chunk.length - TAIL_BYTES) : chunk;
    this.#tail.push(kept);
    this.#tailBytes += kept.length;
    while (this.#tailBytes - this.#tail[0]!.length >= TAIL_BYTES) this.#tailBytes -= this.#tail.shift()!.length;
  }

  result(): Usage {
    const tail = Buffer.concat(this.#tail, this.#tailBytes);
    const text = tail.toString('utf8', Math.max(0, tail.length - TAIL_BYTES));
    const usage: Usage = {};
    usage.inputTokens = lastNumber(OPENAI_INPUT, text) ?? lastNumber(OLLAMA_INPUT, text);
    usage.outputTokens = lastNumber(OPENAI_OUTPUT, text) ?? lastNumber(OLLAMA_OUTPUT, text);
    usage.responseModel = MODEL.exec(Buffer.concat(this.#head, this.#headBytes).toString('utf8'))?.[1];
    return usage;
  }
}

function lastNumber(re: RegExp, text: string): number | undefined {
  let last: string | undefined;
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) last = m[1];
  return last === undefined ? undefined : Number(last);
}
