import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net, { connect } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FAULT_ON_SIGUSR2, freePort, ROOT, startModelServer, startNode, stopAll, waitFor } from '../helpers/processes.js';

/** Directories made by `tempFile`, removed once the file's tests are done. */
const tempDirs: string[] = [];

afterAll(async () => {
  await stopAll();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function sluice(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [join(ROOT, 'dist/cli.js'), ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 15_000 });
}

function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
  tempDirs.push(dir);
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

describe('sluice command', () => {
  it('--help and --version', () => {
    const help = sluice(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('sluice check-config FILE');
    const version = sluice(['--version']);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout.trim()).toBe(`sluice ${pkg.version}`);
  });

  it('a usage mistake gets one line naming it, not the whole help', () => {
    for (const [args, problem] of [
      [['--frobnicate'], 'unknown option --frobnicate'],
      [['-x'], 'unknown option -x'],
      [['--config'], 'option --config needs a value'],
      [['frob'], 'unknown command "frob"'],
    ] as const) {
      const out = sluice([...args]);
      expect(out.status, args.join(' ')).toBe(2);
      expect(out.stderr, args.join(' ')).toBe(`sluice: ${problem} (see sluice --help)\n`);
      expect(out.stdout).toBe('');
    }
  });

  it('check-config prints the effective config with secrets hidden', () => {
    const file = tempFile('ok.yaml', 'endpoints:\n  - name: a\n    url: http://admin:hunter2@127.0.0.1:9/\n    type: vllm\n    bearer_token_env: TOKEN_FOR_A\n');
    const out = sluice(['check-config', file], { TOKEN_FOR_A: 'tok-SECRET-value' });
    expect(out.status).toBe(0);
    expect(out.stdout).toContain('health_path: /health');
    expect(out.stdout).toContain('check_interval: 5s');
    expect(out.stdout).toContain('bearer_token_env: TOKEN_FOR_A');
    expect(out.stdout).not.toContain('hunter2');
    expect(out.stdout).not.toContain('tok-SECRET-value');
  });

  it('an invalid config exits 2 naming every bad key, and nothing starts', async () => {
    const port = await freePort();
    const file = tempFile('bad.yaml', `server:\n  port: ${port}\n  prot: 1\nendpoints:\n  - name: a\n    url: http://127.0.0.1:9\n  - name: b\n    url: http://127.0.0.1:9\n  - name: c\n    url: http://127.0.0.1:9\n    weight: -1\n`);
    for (const args of [['check-config', file], ['--config', file]]) {
      const out = sluice(args);
      expect(out.status).toBe(2);
      expect(out.stderr).toContain('endpoints[2].weight: expected a positive integer (line 11)');
      expect(out.stderr).toContain('server: unknown key "prot" (line 3)');
    }
    expect(await portOpen(port)).toBe(false);
    const missing = sluice(['check-config', '/nonexistent/sluice.yaml']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('/nonexistent/sluice.yaml');
  });

  it('runs from environment variables alone (SLUICE_ENDPOINTS, SLUICE_PORT) and stops on SIGTERM', async () => {
    const backend = await startModelServer('env-1', ['m:1']);
    const port = await freePort();
    const proc = startNode('dist/cli.js', [], { SLUICE_ENDPOINTS: `env-1=${backend.url}`, SLUICE_ENDPOINT_TYPE: 'vllm', SLUICE_PORT: String(port), SLUICE_LOG_LEVEL: 'warn' });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/internal/health`)).ok, 15_000, 'env-configured sluice');
    const res = await fetch(`http://127.0.0.1:${port}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"good"}' });
    expect(res.headers.get('x-server-id')).toBe('env-1');
    await proc.stop('SIGTERM');
    expect(proc.child.exitCode).toBe(0);
    // SLUICE_LOG_LEVEL=warn: no info lines (no access log) were written.
    expect(proc.jsonLines().some((l) => l.level === 'info')).toBe(false);
  });

  // A cluster's workers used to be restarted forever (every 10 s at most), each failing to listen again.
  it.each([1, 2])('a port in use (server.workers: %i) is a line naming the address, and exit 1', async (workers) => {
    const port = await freePort();
    const holder = net.createServer().listen(port, '127.0.0.1');
    await once(holder, 'listening');
    try {
      const config = tempFile('sluice.yaml', `server:\n  host: 127.0.0.1\n  port: ${port}\n  workers: ${workers}\nendpoints:\n  - name: a\n    url: http://127.0.0.1:9\n`);
      const run = sluice(['--config', config]);
      expect(run.status).toBe(1);
      const problems = run.stderr.split('\n').filter(Boolean);
      expect(new Set(problems)).toEqual(new Set([`sluice: cannot listen on 127.0.0.1:${port}: the address is already in use`]));
      if (workers > 1) expect(run.stdout).toContain('"message":"worker failed to start; stopping"');
    } finally {
      holder.close();
    }
  });

  for (const fault of ['exception', 'rejection'] as const) {
    it(`an uncaught ${fault} is logged as one fatal JSON line and the process exits 1`, async () => {
      const backend = await startModelServer(`fatal-${fault}`, ['m:1']);
      const port = await freePort();
      const proc = startNode('dist/cli.js', [], { SLUICE_ENDPOINTS: backend.url, SLUICE_PORT: String(port), SLUICE_TEST_FAULT: fault, ...FAULT_ON_SIGUSR2 });
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/internal/health`)).ok, 15_000, 'sluice up');
      proc.child.kill('SIGUSR2');
      const exited = await new Promise<number | null>((resolve) => proc.child.once('exit', (code) => resolve(code)));
      expect(exited).toBe(1);
      const fatal = proc.jsonLines().filter((l) => l.fatal === true);
      expect(fatal).toHaveLength(1);
      expect(fatal[0]).toMatchObject({ level: 'error', message: 'uncaught error; exiting', service: 'sluice', origin: fault === 'exception' ? 'uncaughtException' : 'unhandledRejection', error: `injected ${fault === 'exception' ? 'fault' : 'rejection'}` });
      expect(String(fatal[0]!.stack)).toContain('fault-on-signal.mjs');
      expect(await portOpen(port)).toBe(false);
    });
  }
});

describe('npm start demo', () => {
  it('starts three sample servers and Sluice on the ports it is given, restarts a crashed server, and Ctrl-C leaves nothing behind', async () => {
    const [port, ...serverPorts] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const ports = [port!, ...serverPorts];
    // SLUICE_PORT in the environment is overridden by the flag.
    const demo = startNode('dist/demo.js', ['--port', String(port), '--server-ports', serverPorts.join(',')], { SLUICE_PORT: '1' });
    await waitFor(() => demo.output().includes(`Sluice is up: http://127.0.0.1:${port}`), 60_000, 'demo banner');
    expect(demo.output()).toContain(`endpoint server-3: http://127.0.0.1:${serverPorts[2]}`);
    const chat = () => fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'phi3:mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }) });
    const res = await chat();
    expect(res.status).toBe(200);
    expect(['server-2', 'server-3']).toContain(res.headers.get('x-sluice-endpoint'));

    // The crash fault brings server-2 down; the demo logs it, keeps running, and starts it again.
    const crash = await fetch(`http://127.0.0.1:${serverPorts[1]}/admin/fault`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"mode":"crash"}' });
    expect(crash.status).toBe(200);
    await waitFor(() => /\[server-2\] exited \(code 1\); restarting in 1s/.test(demo.output()), 10_000, 'crash logged');
    await waitFor(async () => (await fetch(`http://127.0.0.1:${serverPorts[1]}/health`)).ok, 30_000, 'server-2 back');
    expect(demo.child.exitCode).toBeNull();
    expect((await chat()).status).toBe(200);

    await demo.stop('SIGINT');
    expect(demo.child.exitCode).toBe(0);
    for (const p of ports) expect(await portOpen(p), `port ${p} closed after the demo`).toBe(false);
  });

  it('refuses a bad port option with a one-line usage error', () => {
    const result = spawnSync(process.execPath, [join(ROOT, 'dist/demo.js'), '--server-ports', '1,2'], { cwd: ROOT, encoding: 'utf8', timeout: 15_000 });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^demo: 3 server ports needed, got 2\nusage: demo /);
  });
});
