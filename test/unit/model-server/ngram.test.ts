import { beforeAll, describe, expect, it } from 'vitest';
import { TRAINING_CORPUS } from '../../../src/model-server/corpus.js';
import { DEFAULT_MAX_TOKENS, MAX_TOKENS_CAP } from '../../../src/model-server/options.js';
import { planCompletion, readMaxTokens } from '../../../src/model-server/generation.js';
import { trainTextGenerator, type TextGenerator } from '../../../src/model-server/ngram.js';
import { tokenize } from '../../../src/model-server/tokenize.js';

let generator: TextGenerator;
beforeAll(() => {
  generator = trainTextGenerator(TRAINING_CORPUS);
});

describe('n-gram text generator', () => {
  it('learns the corpus vocabulary', () => {
    expect(generator.vocabularySize).toBeGreaterThan(200);
  });

  it('is deterministic for a given seed text', () => {
    const first = generator.generate('tell me about the river', 40);
    const second = generator.generate('tell me about the river', 40);
    expect(second).toEqual(first);
    // A fresh model trained on the same text also agrees: nothing depends on global state.
    expect(trainTextGenerator(TRAINING_CORPUS).generate('tell me about the river', 40)).toEqual(first);
  });

  it('gives different outputs for different prompts', () => {
    const outputs = new Set(['bread', 'the storm', 'a train', 'sunflowers', 'hello there'].map((p) => generator.generate(p, 20).join(' ')));
    expect(outputs.size).toBe(5);
  });

  it('produces exactly the requested number of tokens, all from the corpus vocabulary', () => {
    const vocabulary = new Set(tokenize(TRAINING_CORPUS.toLowerCase()));
    for (const count of [0, 1, 7, 100, MAX_TOKENS_CAP]) {
      const tokens = generator.generate('weather', count);
      expect(tokens).toHaveLength(count);
      for (const token of tokens) expect(vocabulary.has(token.toLowerCase())).toBe(true);
    }
  });

  it('mostly follows word sequences seen in training', () => {
    const corpusBigrams = new Set<string>();
    const corpusTokens = tokenize(TRAINING_CORPUS.toLowerCase());
    for (let i = 0; i + 1 < corpusTokens.length; i++) corpusBigrams.add(`${corpusTokens[i]} ${corpusTokens[i + 1]}`);
    const output = generator.generate('the lighthouse', 200).map((t) => t.toLowerCase());
    let seen = 0;
    for (let i = 0; i + 1 < output.length; i++) if (corpusBigrams.has(`${output[i]} ${output[i + 1]}`)) seen++;
    // Wrap-around from the corpus end to its start is the only unseen pair it may produce.
    expect(seen / (output.length - 1)).toBeGreaterThan(0.97);
  });

  it('capitalises sentence starts', () => {
    const tokens = generator.generate('morning', 200);
    expect(tokens[0]![0]).toBe(tokens[0]![0]!.toUpperCase());
    tokens.forEach((token, i) => {
      if (i > 0 && tokens[i - 1] === '.') expect(token[0]).toBe(token[0]!.toUpperCase());
    });
  });
});

describe('planCompletion and max tokens', () => {
  it('counts prompt tokens and joins pieces into the full text', () => {
    const plan = planCompletion(generator, 'm', 'Hello, world!', 12);
    expect(plan.promptTokens).toBe(4);
    expect(plan.completionTokens).toBe(12);
    expect(plan.pieces).toHaveLength(12);
    expect(plan.text).toBe(plan.pieces.join(''));
    expect(tokenize(plan.text)).toHaveLength(12);
  });

  it('seeds with the model name, so models differ but each is stable', () => {
    const a = planCompletion(generator, 'llama3.2:1b', 'same prompt', 20).text;
    expect(planCompletion(generator, 'llama3.2:1b', 'same prompt', 20).text).toBe(a);
    expect(planCompletion(generator, 'qwen2.5:0.5b', 'same prompt', 20).text).not.toBe(a);
  });

  it('defaults, caps and validates the requested length', () => {
    expect(readMaxTokens(undefined, 'max_tokens')).toEqual({ ok: true, maxTokens: DEFAULT_MAX_TOKENS });
    expect(readMaxTokens(5, 'max_tokens')).toEqual({ ok: true, maxTokens: 5 });
    expect(readMaxTokens(100_000, 'max_tokens')).toEqual({ ok: true, maxTokens: MAX_TOKENS_CAP });
    expect(readMaxTokens(0, 'max_tokens').ok).toBe(false);
    expect(readMaxTokens(2.5, 'max_tokens').ok).toBe(false);
    expect(readMaxTokens('7', 'max_tokens').ok).toBe(false);
    // Ollama: -1 means "no limit", bounded here by the cap.
    expect(readMaxTokens(-1, 'num_predict', true)).toEqual({ ok: true, maxTokens: MAX_TOKENS_CAP });
  });
});
