import { createRandom, hashString } from './prng.js';
import { tokenize } from './tokenize.js';

/**
 * A word-level trigram generator with bigram back-off, trained on a small corpus. Generation is
 * deterministic: the random source is seeded from the caller's seed text (the prompt).
 */
export interface TextGenerator {
  /** Exactly `maxTokens` tokens continuing the seed text. */
  generate(seedText: string, maxTokens: number): string[];
  /** Number of distinct words learned, for diagnostics. */
  readonly vocabularySize: number;
}

/** Successor words with cumulative counts, for weighted picks by binary search. */
interface Successors {
  readonly words: string[];
  readonly cumulative: number[];
}

const SENTENCE_END = '.';
/** Probability of ignoring the trigram context, so outputs do not just replay the corpus. */
const BACKOFF_PROBABILITY = 0.2;

function addCount(table: Map<string, Map<string, number>>, context: string, next: string): void {
  let counts = table.get(context);
  if (!counts) {
    counts = new Map();
    table.set(context, counts);
  }
  counts.set(next, (counts.get(next) ?? 0) + 1);
}

function freeze(table: Map<string, Map<string, number>>): Map<string, Successors> {
  const frozen = new Map<string, Successors>();
  for (const [context, counts] of table) {
    const words: string[] = [];
    const cumulative: number[] = [];
    let running = 0;
    for (const [word, count] of counts) {
      running += count;
      words.push(word);
      cumulative.push(running);
    }
    frozen.set(context, { words, cumulative });
  }
  return frozen;
}

function pick(successors: Successors, random: () => number): string {
  const total = successors.cumulative[successors.cumulative.length - 1]!;
  const target = random() * total;
  let low = 0;
  let high = successors.cumulative.length - 1;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (successors.cumulative[mid]! > target) high = mid;
    else low = mid + 1;
  }
  return successors.words[low]!;
}

/** Capitalises the first word and every word that starts a sentence. */
function capitaliseSentences(tokens: string[]): string[] {
  return tokens.map((token, index) =>
    index === 0 || tokens[index - 1] === SENTENCE_END ? token.charAt(0).toUpperCase() + token.slice(1) : token,
  );
}

export function trainTextGenerator(corpus: string): TextGenerator {
  const tokens = tokenize(corpus.toLowerCase());
  if (tokens.length < 3) throw new Error('training corpus is too short');
  // Wrap around so every token, including the last, has successors to continue from.
  const ring = tokens[tokens.length - 1] === SENTENCE_END ? tokens : [...tokens, SENTENCE_END];
  const bigramCounts = new Map<string, Map<string, number>>();
  const trigramCounts = new Map<string, Map<string, number>>();
  for (let i = 0; i < ring.length; i++) {
    const first = ring[i]!;
    const second = ring[(i + 1) % ring.length]!;
    const third = ring[(i + 2) % ring.length]!;
    addCount(bigramCounts, first, second);
    addCount(trigramCounts, `${first} ${second}`, third);
  }
  const bigrams = freeze(bigramCounts);
  const trigrams = freeze(trigramCounts);
  const sentenceStarts = bigrams.get(SENTENCE_END)!;

  return {
    vocabularySize: bigrams.size,
    generate(seedText: string, maxTokens: number): string[] {
      const random = createRandom(hashString(seedText));
      const seedTokens = tokenize(seedText.toLowerCase());
      let previous = seedTokens.length >= 2 ? seedTokens[seedTokens.length - 2]! : '';
      let last = seedTokens.length >= 1 ? seedTokens[seedTokens.length - 1]! : SENTENCE_END;
      const output: string[] = [];
      while (output.length < maxTokens) {
        const trigram = random() < BACKOFF_PROBABILITY ? undefined : trigrams.get(`${previous} ${last}`);
        const next = pick(trigram ?? bigrams.get(last) ?? sentenceStarts, random);
        output.push(next);
        previous = last;
        last = next;
      }
      return capitaliseSentences(output);
    },
  };
}
