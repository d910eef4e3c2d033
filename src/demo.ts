#!/usr/bin/env node
/**
 * `npm start`: three sample model servers and Sluice in front of them, as child processes of this
 * supervisor, on 127.0.0.1:8001-8003 and :8080 unless told otherwise:
 *   npm start -- --port 9080 --server-ports 9001,9002,9003
 *   SLUICE_PORT=9080 DEMO_SERVER_PORTS=9001,9002,9003 npm start
 * A sample server that exits (a crash fault, a kill) is restarted after a short delay, as
 * compose's restart policy would; Ctrl-C (or SIGTERM) stops everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import YAML from 'yaml';

const root = fileURLToPath(new URL('..', import.meta.url));
const node = process.execPath;
const RESTART_DELAY_MS = 1000;

const SERVERS = [
  { id: 'server-1', models: 'llama3.2:1b,qwen2.5:0.5b', tokenDelay: '20ms' },
  { id: 'server-2', models: 'llama3.2:1b,phi3:mini', tokenDelay: '20ms' },
  // Slower on purpose, so latency panels and least-connections have something to show.
  { id: 'server-3', models: 'qwen2.5:0.5b,phi3:mini', tokenDelay: '60ms' },
];
const DEFAULT_SERVER_PORTS = [8001, 8002, 8003];

const USAGE = 'usage: demo [--port PORT] [--server-ports P1,P2,P3]  (or SLUICE_PORT, DEMO_SERVER_PORTS)';

interface DemoOptions {
  port: number;
  serverPorts: number[];
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text.trim()) || port < 1 || port > 65535) throw new Error(`not a port: "${text}"`);
  return port;
}

function demoOptions(): DemoOptions {
  const { values } = parseArgs({ options: { port: { type: 'string' }, 'server-ports': { type: 'string' } } });
  const port = parsePort(values.port ?? process.env.SLUICE_PORT ?? '8080');
  const list = values['server-ports'] ?? process.env.DEMO_SERVER_PORTS;
  const serverPorts = list === undefined ? DEFAULT_SERVER_PORTS : list.split(',').map(parsePort);
  if (serverPorts.length !== SERVERS.length) throw new Error(`${SERVERS.length} server ports needed, got ${serverPorts.length}`);
  return { port, serverPorts };
}

/** config/demo.yaml with the chosen ports, in a temporary file. */
function writeDemoConfig(options: DemoOptions, dir: string): string {
  const config = YAML.parseDocument(readFileSync(join(root, 'config/demo.yaml'), 'utf8'));
  config.setIn(['server', 'port'], options.port);
  SERVERS.forEach((_, i) => config.setIn(['endpoints', i, 'url'], `http://127.0.0.1:${options.serverPorts[i]}`));
  const path = join(dir, 'sluice.yaml');
  writeFileSync(path, config.toString());
  return path;
}

let stopping = false;
const running = new Set<ChildProcess>();
const restartTimers = new Set<NodeJS.Timeout>();
let tempDir: string | undefined;

interface ChildSpec {
  name: string;
  args: string[];
  env: Record<string, string>;
  /** Started again after RESTART_DELAY_MS when it exits on its own. */
  restart: boolean;
}

function start(spec: ChildSpec): void {
  const child = spawn(node, spec.args, { cwd: root, env: { ...process.env, ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = `[${spec.name}] `;
  const relay = (stream: NodeJS.WritableStream) => (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line) stream.write(prefix + line + '\n');
  };
  child.stdout!.on('data', relay(process.stdout));
  child.stderr!.on('data', relay(process.stderr));
  running.add(child);
  child.on('exit', (code, signal) => {
    running.delete(child);
    if (stopping) return;
    // Ctrl-C in a terminal reaches the whole process group: children may exit before we hear it.
    if (signal === 'SIGINT') return void stop(0);
    if (spec.restart) {
      process.stderr.write(`${prefix}exited (${signal ?? `code ${code}`}); restarting in ${RESTART_DELAY_MS / 1000}s\n`);
      const timer = setTimeout(() => {
        restartTimers.delete(timer);
        if (!stopping) start(spec);
      }, RESTART_DELAY_MS);
      restartTimers.add(timer);
      return;
    }
    if (code === 0) return void stop(0);
    process.stderr.write(`${prefix}exited (${signal ?? `code ${code}`}); stopping the demo\n`);
    void stop(1);
  });
}

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const timer of restartTimers) clearTimeout(timer);
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const force = setTimeout(() => child.kill('SIGKILL'), 5000);
          child.once('exit', () => {
            clearTimeout(force);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  process.exit(code);
}

/** Polls until `ready` says yes (false on timeout or when the demo is stopping). */
async function waitUntil(ready: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !stopping) {
    try {
      if (await ready()) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

const DEMO_MODELS = new Set(SERVERS.flatMap((s) => s.models.split(',')));

/** Every demo model is in Sluice's catalog with a routable endpoint, so any of them can be asked for. */
async function catalogComplete(base: string): Promise<boolean> {
  const res = await fetch(`${base}/v1/models`, { signal: AbortSignal.timeout(1000) });
  const body = (await res.json()) as { data: Array<{ id: string }> };
  return body.data.filter((m) => DEMO_MODELS.has(m.id)).length === DEMO_MODELS.size;
}

async function main(): Promise<void> {
  let options: DemoOptions;
  try {
    options = demoOptions();
  } catch (err) {
    process.stderr.write(`demo: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  // `on`, not `once`: a second Ctrl-C while stopping would otherwise find no listener and end the
  // demo at once, before its servers are stopped (stop() runs once).
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  tempDir = mkdtempSync(join(tmpdir(), 'sluice-demo-'));
  const configPath = writeDemoConfig(options, tempDir);
  SERVERS.forEach((s, i) => {
    const env = { PORT: String(options.serverPorts[i]), HOST: '127.0.0.1', SERVER_ID: s.id, MODELS: s.models, TOKEN_DELAY: s.tokenDelay };
    start({ name: s.id, args: ['dist/model-server/main.js'], env, restart: true });
  });
  // The port is in the generated file; SLUICE_PORT from the environment must not override it.
  start({ name: 'sluice', args: ['dist/cli.js', '--config', configPath], env: { SLUICE_PORT: '' }, restart: false });
  const base = `http://127.0.0.1:${options.port}`;
  if (!(await waitUntil(async () => (await fetch(`${base}/internal/health`, { signal: AbortSignal.timeout(1000) })).ok, 30_000))) {
    process.stderr.write('sluice did not become healthy within 30s\n');
    return stop(1);
  }
  await waitUntil(() => catalogComplete(base), 15_000);
  const fault = `curl -s http://127.0.0.1:${options.serverPorts[1]}/admin/fault -H 'content-type: application/json' -d '{"mode":"crash"}'`;
  process.stdout.write(
    [
      '',
      `Sluice is up: ${base}`,
      ...SERVERS.map((s, i) => `  endpoint ${s.id}: http://127.0.0.1:${options.serverPorts[i]}  models ${s.models}`),
      '',
      'Try:',
      `  curl -s ${base}/v1/models`,
      `  curl -s ${base}/v1/chat/completions -H 'content-type: application/json' -d '{"model":"llama3.2:1b","messages":[{"role":"user","content":"hello"}]}'`,
      `  curl -s ${base}/internal/status/endpoints`,
      `  curl -s ${base}/metrics`,
      `  ${fault}   # server-2 crashes; the demo restarts it`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

void main();
