/** Time as the engine sees it: injected so that unit tests drive it by hand, without sleeping. */
export interface EngineClock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  /** Runs `fn` after `delayMs`; returns a function that cancels it. */
  schedule(fn: () => void, delayMs: number): () => void;
}

export const realClock: EngineClock = {
  now: () => performance.now(),
  schedule: (fn, delayMs) => {
    const timer = setTimeout(fn, Math.max(0, delayMs));
    return () => clearTimeout(timer);
  },
};

/** Resolves after `delayMs` on `clock`. */
export function delay(clock: EngineClock, delayMs: number): Promise<void> {
  return new Promise((resolve) => clock.schedule(resolve, delayMs));
}
