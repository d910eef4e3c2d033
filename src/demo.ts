#!/usr/bin/env node
/**
 * `npm start`: three sample model servers on 127.0.0.1:8001-8003 and Sluice on :8080 in front
 * of them, as child processes of this supervisor. Ctrl-C (or SIGTERM) stops all of them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const node = process.execPath;

export const DEMO_SERVERS = [
  { id: 'server-1', port: 8001, models: 'llama3.2:1b,qwen2.5:0.5b', tokenDelay: '20ms' },
  { id: 'server-2', port: 8002, models: 'llama3.2:1b,phi3:mini', tokenDelay: '20ms' },
  // Slower on purpose, so latency panels and least-connections have something to show.
  { id: 'server-3', port: 8003, models: 'qwen2.5:0.5b,phi3:mini', tokenDelay: '60ms' },
];

const children: ChildProcess[] = [];
let stopping = false;

function start(name: string, args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(node, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = `[${name}] `;
  const relay = (stream: NodeJS.WritableStream) => (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line) stream.write(prefix + line + '\n');
  };
  child.stdout!.on('data', relay(process.stdout));
  child.stderr!.on('data', relay(process.stderr));
  child.on('exit', (code, signal) => {
    if (stopping) return;
    // Ctrl-C in a terminal reaches the whole process group: children may exit before we hear it.
    if (signal === 'SIGINT' || code === 0) return void stop(0);
    process.stderr.write(`${prefix}exited (${signal ?? code}); stopping the demo\n`);
    void stop(1);
  });
  children.push(child);
  return child;
}

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(
    children.map(
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

const DEMO_MODELS = new Set(DEMO_SERVERS.flatMap((s) => s.models.split(',')));

/** Every demo model is in Sluice's catalog with a routable endpoint, so any of them can be asked for. */
async function catalogComplete(base: string): Promise<boolean> {
  const res = await fetch(`${base}/v1/models`, { signal: AbortSignal.timeout(1000) });
  const body = (await res.json()) as { data: Array<{ id: string }> };
  return body.data.filter((m) => DEMO_MODELS.has(m.id)).length === DEMO_MODELS.size;
}

async function main(): Promise<void> {
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));
  for (const s of DEMO_SERVERS) {
    start(s.id, ['dist/model-server/main.js'], { PORT: String(s.port), HOST: '127.0.0.1', SERVER_ID: s.id, MODELS: s.models, TOKEN_DELAY: s.tokenDelay });
  }
  start('sluice', ['dist/cli.js', '--config', 'config/demo.yaml'], {});
  const port = process.env.SLUICE_PORT ?? '8080';
  const base = `http://127.0.0.1:${port}`;
  if (!(await waitUntil(async () => (await fetch(`${base}/internal/health`, { signal: AbortSignal.timeout(1000) })).ok, 30_000))) {
    process.stderr.write('sluice did not become healthy within 30s\n');
    return stop(1);
  }
  await waitUntil(() => catalogComplete(base), 15_000);
  process.stdout.write(
    [
      '',
      `Sluice is up: ${base}`,
      ...DEMO_SERVERS.map((s) => `  endpoint ${s.id}: http://127.0.0.1:${s.port}  models ${s.models}`),
      '',
      'Try:',
      `  curl -s ${base}/v1/models`,
      `  curl -s ${base}/v1/chat/completions -H 'content-type: application/json' -d '{"model":"llama3.2:1b","messages":[{"role":"user","content":"hello"}]}'`,
      `  curl -s ${base}/internal/status/endpoints`,
      `  curl -s ${base}/metrics`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

void main();
