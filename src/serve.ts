import type { SluiceConfig } from './config/index.js';
import { ClusterPrimary, ClusterWorker } from './cluster/index.js';
import type { ReloadSignal } from './reload-signal.js';
import { stopSignal } from './server/index.js';
import { startSluice } from './sluice.js';
import { createLogger, type Logger } from './telemetry/index.js';

/**
 * An exception nothing caught, or a promise rejection nothing handled, leaves the process in a
 * state nobody can vouch for: it is logged as one `error` line with `fatal: true` (where people
 * watch, rather than as a bare stack on stderr) and the process exits with 1. A worker is then
 * restarted by the primary; a single process by its supervisor.
 */
function exitOnFatal(logger: Logger): void {
  let exiting = false;
  process.on('uncaughtException', (err: unknown, origin: NodeJS.UncaughtExceptionOrigin) => {
    if (exiting) return;
    exiting = true;
    const error = err instanceof Error ? { error: err.message, error_name: err.name, stack: err.stack } : { error: String(err) };
    logger.error('uncaught error; exiting', { fatal: true, origin, ...error });
    // The console transport writes on this turn; the exit waits one more for a piped stdout.
    setImmediate(() => process.exit(1));
  });
}

/** One process: listens, checks, reloads on SIGHUP, drains on SIGTERM/SIGINT. */
export async function serveAlone(config: SluiceConfig, reloadConfig: () => SluiceConfig, reloadSignal: ReloadSignal): Promise<void> {
  const logger = createLogger(config.logging.level);
  exitOnFatal(logger);
  const sluice = await startSluice(config, { logger });
  // SIGHUP re-reads the same file and environment, as nginx and HAProxy do.
  reloadSignal.ready(() => sluice.reload(reloadConfig));
  // SIGTERM or SIGINT: drain for server.shutdown_grace; a second one cuts what is left at once.
  await stopSignal(() => void sluice.close(0));
  await sluice.close();
}

/**
 * A cluster primary: runs the checks and forks `workers` workers that serve. SIGHUP reloads the
 * primary and, through it, every worker; SIGTERM/SIGINT drains the workers, then stops. Resolves
 * with the exit status: 1 when a worker could not start (the worker says why on stderr).
 */
export async function servePrimary(config: SluiceConfig, workers: number, reloadConfig: () => SluiceConfig, reloadSignal: ReloadSignal): Promise<number> {
  const logger = createLogger(config.logging.level, 'sluice', { pid: process.pid, worker: 'primary' });
  exitOnFatal(logger);
  const primary = new ClusterPrimary(workers, logger);
  const sluice = await startSluice(config, { logger, cluster: primary });
  primary.start();
  logger.info('sluice starting workers', { workers });
  reloadSignal.ready(() => sluice.reload(reloadConfig));
  // The workers drain; a second signal is passed on: each worker cuts what it still has.
  const failed = await Promise.race([stopSignal(() => void sluice.close(0)).then(() => undefined), primary.startFailure]);
  logger.info('stopping workers', { workers: primary.pids.length });
  await sluice.close();
  logger.info('shut down');
  return failed ? 1 : 0;
}

/** A cluster worker: takes its configuration and state from the primary, serves until told to stop. */
export async function serveWorker(): Promise<void> {
  const { worker, config, listen, startedAt } = await ClusterWorker.join();
  const logger = createLogger(config.logging.level, 'sluice', { pid: process.pid, worker: worker.slot });
  exitOnFatal(logger);
  // Ctrl-C reaches the whole process group; the primary decides, and passes SIGTERM on.
  process.on('SIGINT', () => undefined);
  const sluice = await startSluice(config, { logger, cluster: worker, listen, startedAt });
  // The primary's second stop signal arrives over IPC. A second SIGTERM here may be the process
  // group's copy of the one the primary passed on (systemd signals the whole group): it cuts only
  // when there is no primary left to decide.
  worker.onCut(() => void sluice.close(0));
  await stopSignal(() => {
    if (!process.connected) void sluice.close(0);
  }, ['SIGTERM']);
  await sluice.close();
  worker.passive.flush();
  // What it counted since the last scrape stays in the merged counters (a worker stopped on its own is restarted).
  await worker.finalReport();
}
