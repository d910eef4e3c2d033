#!/usr/bin/env node
/**
 * sluice-model-server: one sample model server configured by environment variables (see env.ts).
 * Prints one JSON line when listening, and exits 0 on SIGTERM/SIGINT, 2 on invalid settings.
 */
// Imported alone, before anything loads node:http: see startTracing.
import { startTracing } from '../telemetry/tracing.js';
import { parseModelServerEnv } from './env.js';

function logLine(entry: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(entry)}\n`);
}

async function main(): Promise<void> {
  const parsed = parseModelServerEnv(process.env);
  if (!parsed.ok) {
    for (const error of parsed.errors) process.stderr.write(`sluice-model-server: invalid setting: ${error}\n`);
    process.exit(2);
  }
  const { options } = parsed;
  // Traces continue the proxy's (OTEL_* variables, as for Sluice); the server module, which loads
  // node:http, is imported only after tracing has hooked the loader.
  const tracing = await startTracing(`sluice-model-server`);
  const { startModelServer } = await import('./server.js');
  const server = await startModelServer({ ...options, log: logLine });
  logLine({ level: 'info', msg: 'model server listening', server_id: options.serverId, port: server.port, models: options.models });

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logLine({ level: 'info', msg: 'model server stopping', server_id: options.serverId, signal });
    // Closing drops every open connection, so this completes promptly; exit regardless.
    void server
      .close()
      .then(() => tracing?.shutdown())
      .finally(() => process.exit(0));
  };
  // `on`, not `once`: a second signal while stopping must not find the default action (exit at once).
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  process.stderr.write(`sluice-model-server: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
