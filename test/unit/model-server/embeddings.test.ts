import { describe, expect, it } from 'vitest';
import { EMBEDDING_DIMENSIONS, embedText, toBase64Float32 } from '../../../src/model-server/embeddings.js';
import { countTokens, toTextPieces, tokenize } from '../../../src/model-server/tokenize.js';

const dot = (a: number[], b: number[]) => a.reduce((sum, value, i) => sum + value * b[i]!, 0);

describe('embedText', () => {
  it('is a deterministic unit vector of the configured size', () => {
    const vector = embedText('the quick brown fox');
    expect(vector).toHaveLength(EMBEDDING_DIMENSIONS);
    expect(Math.hypot(...vector)).toBeCloseTo(1, 10);
    expect(embedText('the quick brown fox')).toEqual(vector);
    expect(embedText('x', 8)).toHaveLength(8);
  });

  it('places texts sharing words closer than unrelated texts, ignoring case', () => {
    const base = embedText('the river runs to the sea');
    expect(dot(base, embedText('THE RIVER RUNS TO THE SEA'))).toBeCloseTo(1, 10);
    expect(dot(base, embedText('the river flows to the sea'))).toBeGreaterThan(dot(base, embedText('bread needs flour and salt')));
  });

  it('maps text without tokens to the zero vector', () => {
    expect(embedText('   ')).toEqual(new Array(EMBEDDING_DIMENSIONS).fill(0));
  });

  it('encodes base64 as little-endian float32, as OpenAI clients decode it', () => {
    const vector = [0.5, -0.25, 1];
    const bytes = Buffer.from(toBase64Float32(vector), 'base64');
    expect([0, 1, 2].map((i) => bytes.readFloatLE(i * 4))).toEqual(vector);
  });
});

describe('tokenize', () => {
  it('splits words and punctuation, keeping contractions whole', () => {
    expect(tokenize("Don't stop, it's 3 o'clock!")).toEqual(["Don't", 'stop', ',', "it's", '3', "o'clock", '!']);
    expect(countTokens('  ')).toBe(0);
  });

  it('joins pieces with spaces except before closing punctuation', () => {
    expect(toTextPieces(['Hello', ',', 'world', '.']).join('')).toBe('Hello, world.');
  });
});
