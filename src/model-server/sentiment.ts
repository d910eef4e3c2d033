import { INTENSIFIERS, NEGATORS, VALENCE } from './lexicon.js';
import { tokenize } from './tokenize.js';

export type SentimentLabel = 'positive' | 'negative' | 'neutral';

export interface SentimentResult {
  readonly label: SentimentLabel;
  /** Confidence in the label, in [0, 1]. */
  readonly score: number;
}

/** How many words after a negator it still applies to (unless punctuation ends the clause first). */
const NEGATION_SCOPE = 3;
const INTENSIFIER_FACTOR = 1.5;
/** "not good" is weaker than "bad": negation flips the sign and halves the weight. */
const NEGATION_FACTOR = -0.5;
const CLAUSE_BREAKS = new Set(['.', ',', ';', ':', '!', '?', 'but', 'however', 'although', 'though']);

/** Lower-cases and drops apostrophes so "Don't" and "dont" match the same negator. */
function normalise(token: string): string {
  return token.toLowerCase().replace(/['’]/g, '');
}

/** Sum of word valences, with negation and intensifiers applied. Zero means no polar words (or a tie). */
export function sentimentValence(text: string): number {
  let total = 0;
  let negationLeft = 0;
  let intensity = 1;
  for (const raw of tokenize(text)) {
    const word = normalise(raw);
    if (CLAUSE_BREAKS.has(word)) {
      negationLeft = 0;
      intensity = 1;
      continue;
    }
    if (NEGATORS.has(word)) {
      negationLeft = NEGATION_SCOPE;
      continue;
    }
    if (INTENSIFIERS.has(word)) {
      intensity = INTENSIFIER_FACTOR;
      continue;
    }
    const valence = VALENCE.get(word);
    if (valence !== undefined) {
      total += valence * intensity * (negationLeft > 0 ? NEGATION_FACTOR : 1);
      intensity = 1;
    }
    if (negationLeft > 0) negationLeft--;
  }
  return total;
}

/** Classifies text as positive, negative or neutral with a confidence score. */
export function analyzeSentiment(text: string): SentimentResult {
  const valence = sentimentValence(text);
  if (valence === 0) return { label: 'neutral', score: 1 };
  // tanh maps any total into (0, 1): one mild word gives about 0.73, several strong ones approach 1.
  const confidence = 0.5 + 0.5 * Math.tanh(Math.abs(valence) / 2 + 0.25);
  return { label: valence > 0 ? 'positive' : 'negative', score: Number(confidence.toFixed(4)) };
}
