import type { GenerationJob, GenerationResult, TokenSource } from '../token-source.js';
import type { EngineClock } from './clock.js';
import type { EngineConfig } from './config.js';
import { EngineMetrics } from './metrics.js';
import { ModelResidency, type ResidentModel } from './residency.js';
import { Engine } from './scheduler.js';
import { simTokenCount } from './tokenizer.js';

export interface FleetOptions {
  readonly models: readonly string[];
  readonly config: EngineConfig;
  /** Models in memory at once; a cold one is loaded in `loadMs`, unloading the least recently used. */
  readonly maxLoadedModels: number;
  readonly loadMs: number;
  readonly clock: EngineClock;
}

/**
 * The served models as simulated engines: one engine per model (as one vLLM instance serves one
 * model), model residency in front of them, and their vLLM-named metrics.
 */
export class SimulatedFleet implements TokenSource {
  readonly metrics: EngineMetrics;
  private readonly engines = new Map<string, Engine>();
  private readonly residency: ModelResidency;

  constructor(options: FleetOptions) {
    const { config, clock } = options;
    this.metrics = new EngineMetrics(
      options.models.map((name) => ({ name, blockSize: config.blockSize, kvBlocks: config.kvBlocks, stats: () => this.engine(name).stats() })),
    );
    for (const name of options.models) this.engines.set(name, new Engine(config, clock, this.metrics.observer(name)));
    // An unloaded model's KV cache goes with it.
    this.residency = new ModelResidency(options.maxLoadedModels, options.loadMs, clock, (name) => this.engine(name).dropCache());
    this.residency.preload(options.models);
  }

  resident(): ResidentModel[] {
    return this.residency.list();
  }

  refusal(model: string, prompt: string, outputTokens: number): string | undefined {
    return this.engine(model).refusal(prompt, outputTokens);
  }

  async generate({ model, prompt, outputTokens, signal, onToken }: GenerationJob): Promise<GenerationResult> {
    const loadMs = await this.residency.use(model);
    if (signal.aborted) return { completed: false };
    const engine = this.engine(model);
    return new Promise((resolve) => {
      const onAbort = () => {
        cancel();
        resolve({ completed: false });
      };
      const cancel = engine.submit({
        prompt,
        outputTokens,
        onToken,
        onFinish: () => {
          signal.removeEventListener('abort', onAbort);
          resolve({ completed: true, promptTokens: simTokenCount(prompt), loadMs });
        },
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  stop(): void {
    for (const engine of this.engines.values()) engine.stop();
  }

  private engine(model: string): Engine {
    const engine = this.engines.get(model);
    if (!engine) throw new Error(`no engine for model ${model}`);
    return engine;
  }
}
