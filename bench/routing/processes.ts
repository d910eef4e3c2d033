/**
 * The processes of the routing benchmark: simulated engines, Sluice and nginx, each on a free
 * loopback port. Every process started here is registered and stopped by `stopAll`, also when the
 * benchmark process exits on an error.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, killAll, startChild, waitFor } from '../lib/child-processes.js';

/** The repository. This file runs compiled, from dist-bench/bench/routing/ (see tsconfig.bench.json). */
export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const MODEL = 'bench-model';

const tempDirs = new Set<string>();

process.on('exit', () => {
  void killAll();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
// Interrupted: exit, so that the handler above stops the children.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  tempDirs.add(dir);
  return dir;
}

export interface Running {
  readonly url: string;
  readonly output: () => string;
  stop(): Promise<void>;
}

function launch(command: string, args: string[], env: Record<string, string>, url: string): Running {
  const child = startChild(command, args, { cwd: ROOT, env, keepChars: 20_000 });
  return { url, output: child.output, stop: () => child.stop() };
}

/** Kills every process started here and not stopped yet (SIGKILL), and waits for them to exit. */
export function stopAll(): Promise<void> {
  return killAll();
}

/** Simulated engines with the sample server's defaults (see the README), one model each. */
export async function startEngines(count: number, env: Record<string, string>): Promise<Running[]> {
  const engines: Running[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    engines.push(launch(process.execPath, [join(ROOT, 'dist/model-server/main.js')], { PORT: String(port), HOST: '127.0.0.1', SERVER_ID: `engine-${i + 1}`, MODELS: MODEL, LOAD_TIME: '100ms', ENGINE: 'sim', ...env }, url));
  }
  for (const e of engines) {
    await waitFor(async () => (await fetch(`${e.url}/health`)).ok, 60_000, `${e.url} healthy`).catch((err: Error) => {
      throw new Error(`${err.message}\n${e.output()}`);
    });
  }
  return engines;
}

export function sluiceConfig(port: number, strategy: string, engines: readonly Running[]): string {
  const eps = engines
    .map((e, i) => `  - name: engine-${i + 1}\n    url: ${e.url}\n    type: vllm\n    check_interval: 500ms\n    check_timeout: 1s`)
    .join('\n');
  return `server:\n  host: 127.0.0.1\n  port: ${port}\nlogging:\n  level: warn\n  access_log: false\nhealth:\n  slow_start: 0s\nbalancing:\n  strategy: ${strategy}\nendpoints:\n${eps}\n`;
}

/** True when `sluice check-config` accepts the strategy (a strategy this build does not know is skipped). */
export function strategySupported(strategy: string): { ok: boolean; reason: string } {
  const dir = tempDir();
  const path = join(dir, 'check.yaml');
  writeFileSync(path, sluiceConfig(8000, strategy, [{ url: 'http://127.0.0.1:8001', output: () => '', stop: async () => {} }]));
  const result = spawnSync(process.execPath, [join(ROOT, 'dist/cli.js'), 'check-config', path], { encoding: 'utf8' });
  return { ok: result.status === 0, reason: (result.stderr || result.stdout).trim().split('\n').slice(-2).join(' ') };
}

export async function startSluice(strategy: string, engines: readonly Running[]): Promise<Running> {
  const port = await freePort();
  const dir = tempDir();
  const path = join(dir, 'sluice.yaml');
  writeFileSync(path, sluiceConfig(port, strategy, engines));
  const url = `http://127.0.0.1:${port}`;
  const proc = launch(process.execPath, [join(ROOT, 'dist/cli.js'), '--config', path], {}, url);
  await waitFor(async () => {
    const listed = (await (await fetch(`${url}/v1/models`)).json()) as { data?: Array<{ id: string }> };
    const health = (await (await fetch(`${url}/internal/health`)).json()) as { endpoints?: { healthy?: number } };
    return (health.endpoints?.healthy ?? 0) >= engines.length && (listed.data ?? []).some((m) => m.id === MODEL);
  }, 60_000, `sluice (${strategy}) ready`).catch((err: Error) => {
    throw new Error(`${err.message}\n${proc.output()}`);
  });
  return proc;
}

export function nginxAvailable(): { ok: boolean; reason: string } {
  const result = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  if (result.error) return { ok: false, reason: `nginx not installed (${result.error.message})` };
  return { ok: true, reason: result.stderr.trim() };
}

/** Real nginx, `least_conn` over the engines, one worker, streaming unbuffered. */
export async function startNginx(engines: readonly Running[]): Promise<Running> {
  const port = await freePort();
  const dir = tempDir();
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
  const servers = engines.map((e) => `    server ${new URL(e.url).host};`).join('\n');
  const conf = `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 10m;
  client_body_buffer_size 1m;
  upstream engines {
    least_conn;
${servers}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://engines;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 120s;
    }
  }
}
`;
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, conf);
  const url = `http://127.0.0.1:${port}`;
  // -e: the error log before the config is read (the packaged default is not writable everywhere).
  const proc = launch('nginx', ['-p', dir, '-e', join(dir, 'error.log'), '-c', confPath, '-g', 'daemon off;'], {}, url);
  await waitFor(async () => (await fetch(`${url}/health`)).ok, 30_000, 'nginx ready').catch((err: Error) => {
    throw new Error(`${err.message}\n${proc.output()}`);
  });
  return proc;
}
