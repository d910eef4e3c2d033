import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A free loopback port (bound and released; good enough for tests run one file at a time). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface Proc {
  readonly child: ChildProcess;
  readonly output: () => string;
  /** Output lines parsed as JSON (non-JSON lines skipped). */
  readonly jsonLines: () => Array<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const running = new Set<Proc>();

export function startNode(script: string, args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [join(ROOT, script), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const proc: Proc = {
    child,
    output: () => out,
    jsonLines: () =>
      out.split('\n').flatMap((line) => {
        try {
          const v: unknown = JSON.parse(line);
          return typeof v === 'object' && v !== null ? [v as Record<string, unknown>] : [];
        } catch {
          return [];
        }
      }),
    stop: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        running.delete(proc);
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const force = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill(signal);
      }),
  };
  running.add(proc);
  return proc;
}

/** Stops every process started through this module (call in afterAll). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not ready yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ModelServer {
  readonly id: string;
  readonly port: number;
  readonly url: string;
  readonly models: string[];
  proc: Proc;
  restart(): Promise<void>;
}

export async function startModelServer(id: string, models: string[], env: Record<string, string> = {}, port?: number): Promise<ModelServer> {
  const p = port ?? (await freePort());
  const url = `http://127.0.0.1:${p}`;
  const launch = () => startNode('dist/model-server/main.js', [], { PORT: String(p), HOST: '127.0.0.1', SERVER_ID: id, MODELS: models.join(','), LOAD_TIME: '100ms', TOKEN_DELAY: '5ms', ...env });
  const server: ModelServer = {
    id,
    port: p,
    url,
    models,
    proc: launch(),
    async restart() {
      server.proc = launch();
      await waitFor(async () => (await fetch(`${url}/health`)).ok, 30_000, `${id} healthy`);
    },
  };
  await waitFor(async () => (await fetch(`${url}/health`)).ok, 30_000, `${id} healthy`);
  return server;
}

export interface SluiceProc {
  readonly url: string;
  readonly port: number;
  readonly proc: Proc;
  readonly configPath: string;
}

/** Writes a YAML config to a temp dir and starts `node dist/cli.js --config` on it. */
export async function startSluice(yamlText: (port: number) => string, env: Record<string, string> = {}, waitHealthy = true): Promise<SluiceProc> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-test-'));
  const configPath = join(dir, 'sluice.yaml');
  writeFileSync(configPath, yamlText(port));
  const proc = startNode('dist/cli.js', ['--config', configPath], env);
  const url = `http://127.0.0.1:${port}`;
  if (waitHealthy) await waitFor(async () => (await fetch(`${url}/internal/health`)).ok, 45_000, 'sluice healthy');
  return { url, port, proc, configPath };
}

/**
 * A Sluice config for endpoints on loopback with fast checks, for tests. Responses name their
 * endpoint and route (`proxy.expose_route_headers`), which the tests read.
 */
export function testConfig(port: number, servers: Array<{ id: string; url: string; weight?: number; priority?: number; backup?: boolean; max_connections?: number }>, extra = ''): string {
  const eps = servers
    .map(
      (s) => `  - name: ${s.id}
    url: ${s.url}
    type: openai
    health_path: /health
    check_interval: 200ms
    check_timeout: 500ms
    weight: ${s.weight ?? 1}
    priority: ${s.priority ?? 0}
    backup: ${s.backup ?? false}${s.max_connections ? `\n    max_connections: ${s.max_connections}` : ''}`,
    )
    .join('\n');
  const routeHeaders = '  expose_route_headers: true\n';
  const sections = /^proxy:\n/m.test(extra) ? extra.replace(/^proxy:\n/m, `proxy:\n${routeHeaders}`) : `${extra}\nproxy:\n${routeHeaders}`;
  return `server:
  host: 127.0.0.1
  port: ${port}
logging:
  level: info
health:
  slow_start: 0s
${sections}
endpoints:
${eps}
`;
}

/** Waits until `healthy` endpoints are healthy and every model in `models` is offered by Sluice's catalog. */
export async function waitReady(sluiceUrl: string, healthy: number, models: readonly string[] = [], timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => {
    const health = (await (await fetch(`${sluiceUrl}/internal/health`)).json()) as { endpoints: { healthy: number } };
    if (health.endpoints.healthy < healthy) return false;
    const listed = (await (await fetch(`${sluiceUrl}/v1/models`)).json()) as { data: Array<{ id: string }> };
    return models.every((m) => listed.data.some((d) => d.id === m));
  }, timeoutMs, `${healthy} healthy endpoints serving ${models.join(', ') || 'anything'}`);
}
