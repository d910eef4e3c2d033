import { describe, expect, it } from 'vitest';
import { VALENCE } from '../../../src/model-server/lexicon.js';
import { analyzeSentiment, sentimentValence } from '../../../src/model-server/sentiment.js';

describe('analyzeSentiment', () => {
  it('labels clearly positive text positive', () => {
    const result = analyzeSentiment('What a wonderful, delightful day. The food was great!');
    expect(result.label).toBe('positive');
    expect(result.score).toBeGreaterThan(0.9);
    expect(result.score).toBeLessThanOrEqual(1);
  });

  it('labels clearly negative text negative', () => {
    const result = analyzeSentiment('The service was terrible and the room was dirty.');
    expect(result.label).toBe('negative');
    expect(result.score).toBeGreaterThan(0.9);
  });

  it('labels text without polar words neutral', () => {
    expect(analyzeSentiment('The train leaves at nine from platform two.')).toEqual({ label: 'neutral', score: 1 });
    expect(analyzeSentiment('')).toEqual({ label: 'neutral', score: 1 });
  });

  it('flips polarity after a negator, in all its spellings', () => {
    expect(analyzeSentiment('This is not good').label).toBe('negative');
    expect(analyzeSentiment("I don't like it").label).toBe('negative');
    expect(analyzeSentiment('I DON’T like it').label).toBe('negative');
    expect(analyzeSentiment('It was never boring').label).toBe('positive');
    expect(analyzeSentiment('not bad at all').label).toBe('positive');
  });

  it('negation is weaker than the opposite word and ends at the clause boundary', () => {
    expect(sentimentValence('not good')).toBe(-0.5);
    expect(sentimentValence('bad')).toBe(-1);
    // The comma closes the negated clause, so "great" counts fully.
    expect(sentimentValence('not bad, great')).toBe(1.5);
    // Scope is three words: the fourth word after "not" is not negated.
    expect(sentimentValence('not one two three good')).toBe(1);
  });

  it('intensifiers strengthen the next polar word only', () => {
    expect(sentimentValence('very good')).toBe(1.5);
    expect(sentimentValence('very good good')).toBe(2.5);
    expect(analyzeSentiment('very good').score).toBeGreaterThan(analyzeSentiment('good').score);
  });

  it('has a lexicon of a few hundred words with both polarities', () => {
    const values = [...VALENCE.values()];
    expect(values.filter((v) => v > 0).length).toBeGreaterThan(150);
    expect(values.filter((v) => v < 0).length).toBeGreaterThan(150);
  });
});
