import { TRAINING_CORPUS } from './corpus.js';
import { trainTextGenerator, type TextGenerator } from './ngram.js';
import { analyzeSentiment, type SentimentResult } from './sentiment.js';

/** The models every served model name maps to. */
export interface LoadedModels {
  readonly sentiment: (text: string) => SentimentResult;
  readonly generator: TextGenerator;
}

/**
 * Simulates a model load: trains the generator at once (it takes milliseconds), but only exposes the
 * models once `loadTimeMs` has passed since `start()`, as a real server would after reading weights.
 */
export class ModelLoader {
  private loaded: LoadedModels | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly loadTimeMs: number) {}

  start(): void {
    const models: LoadedModels = { sentiment: analyzeSentiment, generator: trainTextGenerator(TRAINING_CORPUS) };
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.loaded = models;
    }, this.loadTimeMs);
  }

  /** The models, or undefined while still loading. */
  get models(): LoadedModels | undefined {
    return this.loaded;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
