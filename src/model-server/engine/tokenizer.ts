import { createHash } from 'node:crypto';

/** The simulated tokenizer's ratio: about four characters a token, as for English with BPE. */
export const CHARS_PER_TOKEN = 4;

/** Tokens in `text`: one per started group of four characters. */
export function simTokenCount(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

/**
 * Chained hashes of the full blocks of `text`: block i's hash covers its own characters and block
 * i-1's hash, so two prompts share leading hashes exactly as far as they share leading blocks.
 * A partial last block has no hash (as in vLLM, only full blocks are cached).
 */
export function blockHashes(text: string, blockSize: number): string[] {
  const blockChars = blockSize * CHARS_PER_TOKEN;
  const hashes: string[] = [];
  let previous = '';
  for (let start = 0; start + blockChars <= text.length; start += blockChars) {
    previous = createHash('sha256').update(previous).update('\u0000').update(text.slice(start, start + blockChars)).digest('base64url').slice(0, 22);
    hashes.push(previous);
  }
  return hashes;
}
