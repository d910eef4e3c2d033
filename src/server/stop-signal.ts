/**
 * Resolves at the first of `signals` (SIGTERM, SIGINT); every later one calls `again` (cut what
 * is left at once, or ignore it).
 *
 * One listener per signal, installed here and never removed. A listener taken off and another
 * put on after the first signal (`process.once`, then `process.on` once the promise has resolved)
 * leaves the signal without a listener in between, and Node then gives it back its default
 * action: a SIGTERM that lands in that gap ends the process at once, every request in flight
 * cut. A cluster worker stopped through its process group gets two SIGTERMs about together (the
 * group's and the one its primary passes on), so under CPU load the second one did land there.
 */
export function stopSignal(again: () => void, signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (): void => {
      if (!stopping) {
        stopping = true;
        resolve();
      } else {
        again();
      }
    };
    for (const signal of signals) process.on(signal, onSignal);
  });
}
