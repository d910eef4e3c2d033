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
 * Watches a response stream without holding it: keeps only its first and last few KiB and
 * reads usage from them at the end, so a long generation costs a constant amount of memory.
 */
export class UsageTap {
  #head = '';
  #tail = '';

  push(chunk: Buffer): void {
    if (this.#head.length < HEAD_BYTES) this.#head += chunk.toString('utf8', 0, Math.min(chunk.length, HEAD_BYTES - this.#head.length));
    const text = chunk.length > TAIL_BYTES ? chunk.toString('utf8', chunk.length - TAIL_BYTES) : chunk.toString('utf8');
    this.#tail = (this.#tail + text).slice(-TAIL_BYTES);
  }

  result(): Usage {
    const usage: Usage = {};
    usage.inputTokens = lastNumber(OPENAI_INPUT, this.#tail) ?? lastNumber(OLLAMA_INPUT, this.#tail);
    usage.outputTokens = lastNumber(OPENAI_OUTPUT, this.#tail) ?? lastNumber(OLLAMA_OUTPUT, this.#tail);
    usage.responseModel = MODEL.exec(this.#head)?.[1];
    return usage;
  }
}

function lastNumber(re: RegExp, text: string): number | undefined {
  let last: string | undefined;
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) last = m[1];
  return last === undefined ? undefined : Number(last);
}
