// Process plumbing for the proxy benchmark: free ports, pinned children with raised file limits,
// readiness waits, peak memory from /proc, and cleanup of everything started.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { delimiter, join } from 'node:path';

/** Core 0 for the proxy under test; core 1 for the backend and the load generator. */
export const CORES = availableParallelism() >= 2 ? { proxy: '0', load: '1' } : { proxy: '0', load: '0' };

/** Absolute path of an executable on PATH (or in the sbin directories Debian puts daemons in), or undefined. */
export function findTool(name) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export { freePort } from './free-port.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Every child still running, so that an interrupted run leaves nothing behind. */
const running = new Set();

/**
 * Starts `cmd args` pinned to `core` (when taskset exists) with the open-files limit raised as
 * far as allowed. Output goes to `logFile` (or is captured when `capture` is set).
 */
export function startPinned({ name, cmd, args = [], core, env = {}, logFile, capture = false, cwd }) {
  const taskset = findTool('taskset');
  const pin = taskset && core !== undefined ? `exec ${taskset} -c ${core} "$@"` : 'exec "$@"';
  const script = `ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; ${pin}`;
  const fd = logFile ? openSync(logFile, 'a') : undefined;
  const stdio = capture ? ['ignore', 'pipe', 'pipe'] : ['ignore', fd ?? 'ignore', fd ?? 'ignore'];
  const child = spawn('bash', ['-c', script, name, cmd, ...args], { cwd, env: { ...process.env, ...env }, stdio });
  if (fd !== undefined) closeSync(fd);
  let stdout = '';
  let stderr = '';
  if (capture) {
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
  }
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const proc = {
    name,
    child,
    pid: child.pid,
    logFile,
    exited,
    output: () => ({ stdout, stderr }),
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop(signal = 'SIGTERM') {
      running.delete(proc);
      if (!proc.alive()) return;
      const force = setTimeout(() => child.kill('SIGKILL'), 3000);
      child.kill(signal);
      await exited;
      clearTimeout(force);
    },
  };
  running.add(proc);
  exited.then(() => running.delete(proc));
  return proc;
}

/** Runs a pinned command to completion and returns its captured output. */
export async function runPinned(opts) {
  const proc = startPinned({ ...opts, capture: true });
  const { code, signal } = await proc.exited;
  const { stdout, stderr } = proc.output();
  if (code !== 0) throw new Error(`${opts.name} exited with ${code ?? signal}: ${stderr.slice(-2000) || stdout.slice(-2000)}`);
  return { stdout, stderr };
}

export async function stopAll() {
  await Promise.all([...running].map((p) => p.stop()));
}

/** Waits until `check` resolves true, polling every 50 ms. */
export async function waitFor(check, timeoutMs, what, proc) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && !proc.alive()) throw new Error(`${what}: ${proc.name} exited early${proc.logFile ? ` (log: ${tail(proc.logFile)})` : ''}`);
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

export function tail(file, chars = 1500) {
  try {
    return readFileSync(file, 'utf8').slice(-chars);
  } catch {
    return '';
  }
}

/** The pids of `pid` and its descendants (an nginx master and its worker, for example). */
export function processTree(pid) {
  const out = [pid];
  let children = '';
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  } catch {
    return out;
  }
  for (const c of children.trim().split(/\s+/).filter(Boolean)) out.push(...processTree(Number(c)));
  return out;
}

/**
 * Pins a running process, all its threads and its descendants to `core` (proxies start unpinned,
 * which is faster on a busy machine, and are pinned once ready, before any measurement).
 */
export function pinTree(pid, core) {
  const taskset = findTool('taskset');
  if (!taskset || core === undefined) return;
  for (const p of processTree(pid)) execFileSync(taskset, ['-a', '-p', '-c', core, String(p)], { stdio: 'ignore' });
}

/** CPU time (user + system) a process has used, in seconds. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of proc(5) (utime, stime), counted from the state field (3).
  clockTicks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/** CPU seconds used so far by `pid` and its descendants (an nginx master and its worker, a cluster's workers). */
export function treeCpuSeconds(pid) {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      total += cpuSeconds(p);
    } catch {
      // exited since it was listed
    }
  }
  return total;
}

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`), read on first use. */
let clockTicks;

/** Peak resident set (VmHWM) of a process and its descendants, in bytes; undefined off Linux. */
export function peakRss(pid) {
  let total = 0;
  let found = false;
  for (const p of processTree(pid)) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) {
        total += Number(m[1]) * 1024;
        found = true;
      }
    } catch {
      // exited meanwhile
    }
  }
  return found ? total : undefined;
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    void stopAll().finally(() => process.exit(130));
  });
}
