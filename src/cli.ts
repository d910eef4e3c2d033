#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { VERSION } from './version.js';

const HELP = `Sluice: an observability-first load balancer for model inference servers.

Usage:
  sluice --config FILE          start the proxy with a YAML config
  sluice                        start from SLUICE_CONFIG or SLUICE_ENDPOINTS
  sluice check-config FILE      validate FILE and print the effective config (exit 2 if invalid)
  kill -HUP <pid>               reload the configuration (endpoints, balancing, health, proxy, logging)
  sluice --help | --version

Environment:
  SLUICE_CONFIG      config file path (when --config is not given)
  SLUICE_PORT        overrides server.port
  SLUICE_LOG_LEVEL   overrides logging.level (error, warn, info, debug)
  SLUICE_ENDPOINTS   comma-separated backend URLs (name=url allowed); replaces the file's endpoints
  OTEL_*             OpenTelemetry trace export (e.g. OTEL_EXPORTER_OTLP_ENDPOINT); off when unset
`;

/** One line on stderr for a usage mistake, pointing at --help rather than printing it. */
function usageError(problem: string): number {
  process.stderr.write(`sluice: ${problem} (see sluice --help)\n`);
  return 2;
}

/** Node's parseArgs messages, reworded to name the option and nothing else. */
function describeArgsError(err: Error & { code?: string }): string {
  const option = /'([^']+)'/.exec(err.message)?.[1];
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) return `unknown option ${option}`;
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) return `option ${option.replace(/ <value>$/, '').split(', ').at(-1)!} needs a value`;
  return err.message.split('\n')[0]!;
}

/** Exit codes: 0 ok, 1 runtime failure, 2 bad usage or invalid configuration. */
async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
    });
  } catch (err) {
    return usageError(describeArgsError(err as Error & { code?: string }));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`sluice ${VERSION}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (command !== undefined && command !== 'check-config') return usageError(`unknown command "${command}"`);

  // Before anything slow: a SIGHUP while starting would otherwise end the process.
  const { holdReloadSignal } = await import('./reload-signal.js');
  const reloadSignal = holdReloadSignal();

  // Tracing must start before Express and http are loaded, so everything else is imported after it.
  const { startTracing } = await import('./telemetry/tracing.js');
  const tracing = command === 'check-config' ? undefined : await startTracing('sluice', process.env, { context: 'explicit', instrumentHttp: false });
  const { loadConfig, renderEffectiveConfig, ConfigError } = await import('./config/index.js');
  const cluster = (await import('node:cluster')).default;
  if (cluster.isWorker) {
    // A worker of `server.workers` > 1: the primary has read the configuration and sends it.
    const { serveWorker } = await import('./serve.js');
    // Reloads come from the primary.
    reloadSignal.ready(() => undefined);
    await serveWorker();
    await tracing?.shutdown();
    return 0;
  }

  let config;
  const path = command === 'check-config' ? (rest[0] ?? values.config) : values.config;
  try {
    if (command === 'check-config' && !path) throw new ConfigError(['check-config needs a FILE']);
    config = loadConfig({ path, env: process.env });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sluice: invalid configuration\n${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (command === 'check-config') {
    process.stdout.write(renderEffectiveConfig(config));
    return 0;
  }

  const { serveAlone, servePrimary } = await import('./serve.js');
  const { workerCount } = await import('./cluster/index.js');
  const workers = workerCount(config.server.workers);
  // SIGHUP re-reads the same file and environment.
  const reloadConfig = () => loadConfig({ path, env: process.env });
  const status = workers > 1 ? await servePrimary(config, workers, reloadConfig, reloadSignal) : (await serveAlone(config, reloadConfig, reloadSignal), 0);
  await tracing?.shutdown();
  return status;
}

/** What the operator can act on when a port cannot be opened (nginx's `bind() to ... failed`); undefined for other errors. */
function describeListenError(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (!(err instanceof Error) || (e.syscall !== 'listen' && e.syscall !== 'bind') || e.port === undefined) return undefined;
  const why: Record<string, string> = { EADDRINUSE: 'the address is already in use', EACCES: 'permission denied', EADDRNOTAVAIL: 'no such address on this host' };
  return `cannot listen on ${e.address ?? ''}:${e.port}: ${why[e.code ?? ''] ?? e.message}`;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`sluice: ${describeListenError(err) ?? (err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
    process.exit(1);
  },
);
