import type { TextGenerator } from './ngram.js';
import { DEFAULT_MAX_TOKENS, MAX_TOKENS_CAP } from './options.js';
import { countTokens, toTextPieces } from './tokenize.js';

/** What one generation request produces, before it is paced out to the client. */
export interface CompletionPlan {
  /** One text piece per generated token; their concatenation is the full output. */
  readonly pieces: readonly string[];
  readonly text: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Output always runs to the requested length. */
  readonly finishReason: 'length';
}

/**
 * Generates the output for `prompt`. The model name is part of the seed so two models served by one
 * replica answer differently, while one model always answers a given prompt the same way.
 */
export function planCompletion(generator: TextGenerator, model: string, prompt: string, maxTokens: number): CompletionPlan {
  const pieces = toTextPieces(generator.generate(`${model}\n${prompt}`, maxTokens));
  return { pieces, text: pieces.join(''), promptTokens: countTokens(prompt), completionTokens: pieces.length, finishReason: 'length' };
}

export type MaxTokensResult = { readonly ok: true; readonly maxTokens: number } | { readonly ok: false; readonly message: string };

/**
 * Output length from a request field (`max_tokens`, `max_completion_tokens`, `num_predict`):
 * absent means DEFAULT_MAX_TOKENS, larger values are capped at MAX_TOKENS_CAP. Ollama's negative
 * values mean "as long as allowed", so `allowNegative` maps them to the cap.
 */
export function readMaxTokens(value: unknown, field: string, allowNegative = false): MaxTokensResult {
  if (value === undefined || value === null) return { ok: true, maxTokens: DEFAULT_MAX_TOKENS };
  if (typeof value !== 'number' || !Number.isInteger(value)) return { ok: false, message: `${field} must be an integer` };
  if (value < 0 && allowNegative) return { ok: true, maxTokens: MAX_TOKENS_CAP };
  const min = allowNegative ? 0 : 1;
  if (value < min) return { ok: false, message: `${field} must be at least ${min}` };
  return { ok: true, maxTokens: Math.min(value, MAX_TOKENS_CAP) };
}

/** Text of a chat message's content: a string, or OpenAI's array of parts (text parts only). */
export function messageText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  const texts: string[] = [];
  for (const part of content) {
    if (typeof part !== 'object' || part === null) return undefined;
    const { type, text } = part as { type?: unknown; text?: unknown };
    if (type === 'text' && typeof text === 'string') texts.push(text);
  }
  return texts.join('\n');
}

export type PromptResult = { readonly ok: true; readonly prompt: string } | { readonly ok: false; readonly message: string };

/** The prompt of a chat: every message's text, one per line. */
export function chatPrompt(messages: unknown): PromptResult {
  if (!Array.isArray(messages) || messages.length === 0) return { ok: false, message: 'messages must be a non-empty array' };
  const lines: string[] = [];
  for (const [index, message] of messages.entries()) {
    if (typeof message !== 'object' || message === null) return { ok: false, message: `messages[${index}] must be an object` };
    const { role, content } = message as { role?: unknown; content?: unknown };
    if (typeof role !== 'string') return { ok: false, message: `messages[${index}].role must be a string` };
    // Assistant messages that only carry tool calls have no content.
    const text = content === undefined || content === null ? '' : messageText(content);
    if (text === undefined) return { ok: false, message: `messages[${index}].content must be a string or an array of content parts` };
    lines.push(text);
  }
  return { ok: true, prompt: lines.join('\n') };
}
