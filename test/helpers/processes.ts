import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort, startChild, waitFor, waitForOutput, type Child } from '../../bench/lib/child-processes.js';

export { freePort, stopAll, waitFor } from '../../bench/lib/child-processes.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** `node args` in the repository, run to its end: exit code and the whole output. */
export function runNode(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface Proc extends Child {
  /** Output lines parsed as JSON (non-JSON lines skipped). */
  readonly jsonLines: () => Array<Record<string, unknown>>;
}

/**
 * `node ROOT/script args`, its whole output kept; `stopAll` (in afterAll) stops it if the test did
 * not. `afterStop` runs once it has been stopped (see ChildOptions).
 */
export function startNode(script: string, args: string[], env: Record<string, string>, afterStop?: () => void): Proc {
  const child = startChild(process.execPath, [join(ROOT, script), ...args], { cwd: ROOT, env, afterStop });
  return {
    ...child,
    jsonLines: () =>
      child.output().split('\n').flatMap((line) => {
        try {
          const v: unknown = JSON.parse(line);
          return typeof v === 'object' && v !== null ? [v as Record<string, unknown>] : [];
        } catch {
          return [];
        }
      }),
  };
}

/** Environment that loads `fault-on-signal.mjs` into a Node process: SIGUSR2 then throws in it. */
export const FAULT_ON_SIGUSR2 = { NODE_OPTIONS: `--import ${pathToFileURL(join(ROOT, 'test/helpers/fault-on-signal.mjs')).href}` };

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
      await ready();
    },
  };
  const ready = async () => {
    await waitForOutput(server.proc, '"model server listening"', 30_000, id);
    await waitFor(async () => (await fetch(`${url}/health`)).ok, 30_000, `${id} healthy`);
  };
  await ready();
  return server;
}

export interface SluiceProc {
  readonly url: string;
  readonly port: number;
  readonly proc: Proc;
  /** In a temporary directory that stopping `proc` removes. */
  readonly configPath: string;
}

/** Sets a sample model server's fault: POST /admin/fault with `{mode, status?, delay_ms?, period_ms?}`. */
export function postFault(serverUrl: string, fault: { mode: string; status?: number; delay_ms?: number; period_ms?: number }): Promise<Response> {
  return fetch(`${serverUrl}/admin/fault`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fault) });
}

/**
 * Writes a YAML config to a temp dir and starts `node dist/cli.js --config` on it. Stopping the
 * process (its `stop()`, or `stopAll`) removes the directory.
 */
export async function startSluice(yamlText: (port: number) => string, env: Record<string, string> = {}, waitHealthy = true): Promise<SluiceProc> {
  const port = await freePort();
  const yaml = yamlText(port);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-test-'));
  const configPath = join(dir, 'sluice.yaml');
  writeFileSync(configPath, yaml);
  const proc = startNode('dist/cli.js', ['--config', configPath], env, () => rmSync(dir, { recursive: true, force: true }));
  const url = `http://127.0.0.1:${port}`;
  if (waitHealthy) {
    await waitForOutput(proc, 'sluice listening', 45_000, 'sluice');
    await waitFor(async () => (await fetch(`${url}/internal/health`)).ok, 45_000, 'sluice healthy');
  }
  return { url, port, proc, configPath };
}

/**
 * A Sluice config for endpoints on loopback with fast checks, for tests. Responses name their
 * endpoint and route (`proxy.expose_route_headers`), which the tests read.
 */
export function testConfig(port: number, servers: Array<{ id: string; url: string; weight?: number; priority?: number; backup?: boolean; max_connections?: number }>, extra = ''): string {
  const eps = servers
    .map((s) => endpointYaml(s.id, s.url, `\n    weight: ${s.weight ?? 1}\n    priority: ${s.priority ?? 0}\n    backup: ${s.backup ?? false}${s.max_connections ? `\n    max_connections: ${s.max_connections}` : ''}`))
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
export async function waitReady(sluiceUrl: string, healthy: number, models: readonly string[] = [], timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => {
    const health = (await (await fetch(`${sluiceUrl}/internal/health`)).json()) as { endpoints: { healthy: number } };
    if (health.endpoints.healthy < healthy) return false;
    const listed = (await (await fetch(`${sluiceUrl}/v1/models`)).json()) as { data: Array<{ id: string }> };
    return models.every((m) => listed.data.some((d) => d.id === m));
  }, timeoutMs, `${healthy} healthy endpoints serving ${models.join(', ') || 'anything'}`);
}

/**
 * Waits until all `count` endpoints take traffic (healthy, or degraded: on a loaded machine a check
 * can take longer than health.degraded_latency) and Sluice lists some model.
 */
export async function waitRoutable(sluiceUrl: string, count: number, timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => {
    const health = (await (await fetch(`${sluiceUrl}/internal/health`)).json()) as { endpoints: { healthy: number; degraded: number } };
    const models = (await (await fetch(`${sluiceUrl}/v1/models`)).json()) as { data: unknown[] };
    return health.endpoints.healthy + health.endpoints.degraded === count && models.data.length > 0;
  }, timeoutMs, 'endpoints healthy with models');
}

/** One `endpoints:` entry of an OpenAI-type server checked every 200 ms, as YAML (`extra`: more lines of it). */
export function endpointYaml(name: string, url: string, extra = ''): string {
  return `  - name: ${name}
    url: ${url}
    type: openai
    health_path: /health
    check_interval: 200ms
    check_timeout: 500ms${extra}`;
}
