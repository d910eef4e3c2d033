/**
 * Word-level tokenisation shared by the models and by usage counting: a token is a run of letters or
 * digits (with inner apostrophes, so "don't" stays one token) or a single punctuation mark.
 */
const TOKEN_PATTERN = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*|[^\s\p{L}\p{N}]/gu;

/** Punctuation that attaches to the previous word instead of following a space. */
const ATTACHED_PUNCTUATION = new Set(['.', ',', ';', ':', '!', '?', ')', '%']);

export function tokenize(text: string): string[] {
  return text.match(TOKEN_PATTERN) ?? [];
}

export function countTokens(text: string): number {
  return tokenize(text).length;
}

/**
 * Turns generated tokens into text pieces whose concatenation reads naturally: words are preceded by
 * a space (except the first), closing punctuation is not. Streaming sends one piece per token.
 */
export function toTextPieces(tokens: readonly string[]): string[] {
  return tokens.map((token, index) => (index === 0 || ATTACHED_PUNCTUATION.has(token) ? token : ` ${token}`));
}
