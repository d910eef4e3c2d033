import { hashBlock, type PromptFacts } from '../balancing/index.js';
import { API, countsTokensOnly, isApi } from './api-paths.js';

/** Characters per token assumed when estimating a prompt's tokens (about right for English). */
export const CHARS_PER_TOKEN = 4;

export interface PromptBlockOptions {
  /** Characters per block (`balancing.prefix.block_chars`). */
  readonly blockChars: number;
  /** Blocks hashed at most (`balancing.prefix.max_blocks`; 0 when only the token estimate is wanted). */
  readonly maxBlocks: number;
}

// Separators that cannot occur in JSON-decoded text by accident often enough to matter.
const ROLE_END = '\u0000';
const MESSAGE_END = '\u0001';

/**
 * The prompt of an OpenAI (`messages` or `prompt`; the Responses API's `instructions` + `input`
 * on `path` `/v1/responses`), Anthropic (`system` + `messages`) or Ollama (`/api/chat`
 * `messages`, `/api/generate` `system` + `prompt`) body as routing sees it: chained hashes of fixed-size
 * blocks of the prompt text, system prompt and earlier turns included, so that two requests
 * sharing a prefix share their leading hashes, like the engines' own prefix-cache blocks
 * (vLLM hashes blocks of 16 tokens the same way, each including its predecessor). The model
 * name seeds the chain: equal text for another model is another cache. Only whole blocks are
 * hashed, except that a prompt shorter than a block is one block.
 * Returns undefined for bodies with no prompt (embeddings, unknown shapes).
 */
export function promptBlocks(body: unknown, model: string | undefined, options: PromptBlockOptions, path = ''): PromptFacts | undefined {
  const text = promptText(body, path);
  if (text === undefined || text.length === 0) return undefined;
  const blocks: number[] = [];
  const seed = model === undefined ? 0 : hashBlock(0, model, 0, model.length);
  const whole = Math.min(Math.floor(text.length / options.blockChars), options.maxBlocks);
  let previous = seed;
  for (let index = 0; index < whole; index++) {
    previous = hashBlock(previous, text, index * options.blockChars, (index + 1) * options.blockChars);
    blocks.push(previous);
  }
  if (blocks.length === 0 && options.maxBlocks > 0) blocks.push(hashBlock(seed, text, 0, text.length));
  return { blocks, tokens: Math.ceil(text.length / CHARS_PER_TOKEN) };
}

/**
 * The prompt as one string in conversation order, or undefined when the body has none. `path`
 * tells a Responses API body (`input`) from an embeddings one, which has an `input` too, and a
 * token count from a generation: a count prefills nothing, so it claims no cache blocks and adds
 * no load.
 */
export function promptText(body: unknown, path = ''): string | undefined {
  if (!isRecord(body) || countsTokensOnly(path)) return undefined;
  if (isApi(path, API.responses)) return responsesText(body);
  if (Array.isArray(body.messages)) {
    // The Anthropic Messages API's system prompt is a field of its own (a string or text blocks),
    // and comes first in the prompt the engine builds: often the longest part, shared by every
    // conversation of a client (a coding agent's instructions).
    let text = systemTurn(contentText(body.system));
    for (const message of body.messages) if (isRecord(message)) text += turn(message.role, contentText(message.content));
    return text;
  }
  const system = typeof body.system === 'string' ? turn('system', body.system) : '';
  if (typeof body.prompt === 'string') return system + body.prompt;
  if (Array.isArray(body.prompt) && typeof body.prompt[0] === 'string') return system + body.prompt[0];
  return undefined;
}

/**
 * A Responses API prompt: its `instructions` (the system prompt), then its `input`, a user's
 * text or a list of items (messages with a role; other items, such as a tool's output, have none).
 */
function responsesText(body: Record<string, unknown>): string | undefined {
  let text = systemTurn(typeof body.instructions === 'string' ? body.instructions : '');
  if (typeof body.input === 'string') return text + turn('user', body.input);
  if (!Array.isArray(body.input)) return text === '' ? undefined : text;
  for (const item of body.input) if (isRecord(item)) text += turn(item.role, contentText(item.content ?? item.output));
  return text;
}

/** One turn of a conversation as the prompt text holds it: its role (none when it has no string one), then its text. */
function turn(role: unknown, text: string): string {
  return `${typeof role === 'string' ? role : ''}${ROLE_END}${text}${MESSAGE_END}`;
}

/** A system prompt given as a field of its own, as a first turn; nothing when it is empty. */
function systemTurn(text: string): string {
  return text === '' ? '' : turn('system', text);
}

/** A message's content: a string, or a list of parts (OpenAI's, Anthropic's blocks), of which the text parts count. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) if (isRecord(part) && typeof part.text === 'string') text += part.text;
  return text;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
