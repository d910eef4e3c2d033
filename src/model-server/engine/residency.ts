import { delay, type EngineClock } from './clock.js';

export interface ResidentModel {
  readonly name: string;
  /** When the load finished, on the clock's scale. */
  readonly loadedAt: number;
  readonly lastUsedAt: number;
}

/**
 * Which models are in memory, as Ollama keeps them: at most `maxLoaded`; a request for a model
 * that is not loaded waits `loadMs` for it (requests arriving meanwhile share that wait), and the
 * least recently used model is unloaded to make room.
 */
export class ModelResidency {
  private readonly loaded = new Map<string, ResidentModel>();
  private readonly loading = new Map<string, Promise<void>>();

  constructor(
    private readonly maxLoaded: number,
    private readonly loadMs: number,
    private readonly clock: EngineClock,
    private readonly onUnload: (model: string) => void = () => undefined,
  ) {
    if (!Number.isInteger(maxLoaded) || maxLoaded < 1) throw new RangeError('maxLoaded must be a positive integer');
  }

  /** Marks `models` loaded at once (the server loaded them while starting), up to the limit. */
  preload(models: readonly string[]): void {
    for (const name of models.slice(0, this.maxLoaded)) this.loaded.set(name, { name, loadedAt: this.clock.now(), lastUsedAt: this.clock.now() });
  }

  /** Loaded models, most recently used first. */
  list(): ResidentModel[] {
    return [...this.loaded.values()].reverse();
  }

  /** Makes `model` resident and marks it used; resolves to the milliseconds spent waiting for a load. */
  async use(model: string): Promise<number> {
    const started = this.clock.now();
    let waited = false;
    while (!this.loaded.has(model)) {
      waited = true;
      let pending = this.loading.get(model);
      if (!pending) {
        this.makeRoom();
        pending = delay(this.clock, this.loadMs).then(() => {
          this.loading.delete(model);
          this.loaded.set(model, { name: model, loadedAt: this.clock.now(), lastUsedAt: this.clock.now() });
        });
        this.loading.set(model, pending);
      }
      await pending;
    }
    const entry = this.loaded.get(model)!;
    // Re-inserted so that the map's order stays least recently used first.
    this.loaded.delete(model);
    this.loaded.set(model, { ...entry, lastUsedAt: this.clock.now() });
    return waited ? this.clock.now() - started : 0;
  }

  private makeRoom(): void {
    for (const name of this.loaded.keys()) {
      if (this.loaded.size + this.loading.size < this.maxLoaded) return;
      this.loaded.delete(name);
      this.onUnload(name);
    }
  }
}
