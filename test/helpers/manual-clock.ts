import type { EngineClock } from '../../src/model-server/engine/index.js';

/** A clock that moves only when told: timers due by then run in time order. */
export class ManualClock implements EngineClock {
  private time = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.time;
  }

  schedule(fn: () => void, delayMs: number): () => void {
    const id = this.seq++;
    this.timers.set(id, { at: this.time + Math.max(0, delayMs), fn });
    return () => this.timers.delete(id);
  }

  /** Moves time forward by `ms`, running every timer that falls due (including ones they schedule). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.time = next[1].at;
      next[1].fn();
    }
    this.time = end;
  }

  /** Settles pending promise callbacks (residency waits resolve through them). */
  async flush(): Promise<void> {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}
