/**
 * SIGHUP from the first moment of the process: its default action ends the process, and a
 * configuration reloader may send it while Sluice is still starting (loading modules, resolving
 * endpoint names). One that comes before Sluice is ready is kept and applied once it is: the
 * file it announces is read then. Imports nothing, so it can be installed before anything else loads.
 */
export interface ReloadSignal {
  /** From now on every SIGHUP calls `reload`; one received before calls it at once. */
  ready(reload: () => void): void;
}

export function holdReloadSignal(): ReloadSignal {
  let reload: (() => void) | undefined;
  let pending = false;
  process.on('SIGHUP', () => {
    if (reload) reload();
    else pending = true;
  });
  return {
    ready(fn) {
      reload = fn;
      if (pending) {
        pending = false;
        fn();
      }
    },
  };
}
