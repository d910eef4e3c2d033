import { hashString } from './prng.js';
import { tokenize } from './tokenize.js';

export const EMBEDDING_DIMENSIONS = 64;

/**
 * A hashed bag-of-words embedding: each lower-cased token adds +1 or -1 (chosen by a second hash) to
 * one of `dimensions` buckets, then the vector is L2-normalised. Texts sharing words point in similar
 * directions. Text without tokens maps to the zero vector.
 */
export function embedText(text: string, dimensions = EMBEDDING_DIMENSIONS): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  for (const token of tokenize(text.toLowerCase())) {
    const hash = hashString(token);
    const sign = hashString(`±${token}`) & 1 ? 1 : -1;
    vector[hash % dimensions]! += sign;
  }
  const norm = Math.hypot(...vector);
  return norm === 0 ? vector : vector.map((value) => value / norm);
}

/** OpenAI's `encoding_format: "base64"`: the vector as little-endian float32 bytes in base64. */
export function toBase64Float32(vector: readonly number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, index) => bytes.writeFloatLE(value, index * 4));
  return bytes.toString('base64');
}
