import { sleep } from './http-io.js';
import { countTokens } from './tokenize.js';

/** One generation, as the API handlers hand it to whatever produces the tokens. */
export interface GenerationJob {
  readonly model: string;
  /** The whole prompt (for a chat, every message in order). */
  readonly prompt: string;
  readonly outputTokens: number;
  readonly signal: AbortSignal;
  /** Called when token `index` is produced, in order. */
  readonly onToken: (index: number) => void;
}

export type GenerationResult =
  | { readonly completed: true; readonly promptTokens: number; readonly loadMs: number }
  /** The client left before the end. */
  | { readonly completed: false };

/** Produces tokens in time: a fixed pace by default, or the simulated engine (ENGINE=sim). */
export interface TokenSource {
  /** Why this job can never run (a client error), checked before any response is sent. */
  refusal(model: string, prompt: string, outputTokens: number): string | undefined;
  generate(job: GenerationJob): Promise<GenerationResult>;
}

/** The default source: one token every `tokenDelayMs`, whatever the load. */
export function pacedTokenSource(tokenDelayMs: number): TokenSource {
  return {
    refusal: () => undefined,
    async generate({ prompt, outputTokens, signal, onToken }) {
      for (let index = 0; index < outputTokens; index++) {
        if (!(await sleep(tokenDelayMs, signal))) return { completed: false };
        onToken(index);
      }
      return { completed: true, promptTokens: countTokens(prompt), loadMs: 0 };
    },
  };
}
