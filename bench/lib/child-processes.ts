/**
 * Child processes on loopback, for the routing benchmark (bench/routing/processes.ts) and the tests
 * (test/helpers/processes.ts): a free port to start one on, starting it with its output kept,
 * waiting until it is ready, and stopping it or every one still running. Nothing here listens for
 * this process's own exit or signals: each caller decides what to clean up then.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export { freePort } from './free-port.mjs';

export interface Child {
  readonly child: ChildProcess;
  /** Its stdout and stderr as they came. */
  readonly output: () => string;
  /** Sends `signal` (SIGTERM by default), SIGKILL after 3 s, and resolves once the process has exited and `afterStop` has run. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface ChildOptions {
  readonly cwd: string;
  /** Added to this process's environment. */
  readonly env?: Record<string, string>;
  /** Keep only the last this many characters of output (by default all of it). */
  readonly keepChars?: number;
  /**
   * Removes what was made for the process (its temporary directory, say). Runs in each `stop()`,
   * and so in `stopAll` and `killAll`, once the process has exited, also when it had exited on its
   * own; not when the caller does not wait (a process 'exit' handler). Should be safe to repeat.
   */
  readonly afterStop?: () => void;
}

/** Started and not stopped yet. */
const running = new Set<Child>();

export function startChild(command: string, args: readonly string[], options: ChildOptions): Child {
  const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const keepChars = options.keepChars ?? Infinity;
  let out = '';
  const keep = (c: Buffer) => {
    out += c.toString();
    if (out.length > keepChars) out = out.slice(-keepChars);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const started: Child = {
    child,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      running.delete(started);
      await signalAndWait(child, signal);
      options.afterStop?.();
    },
  };
  running.add(started);
  return started;
}

/**
 * Sends `signal` unless the process has exited already, SIGKILL after 3 s, and resolves once it
 * has exited. The signal is sent before it returns.
 */
function signalAndWait(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const force = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill(signal);
  });
}

/**
 * Stops every process started here and not stopped yet, as `stop()` does, and resolves once they
 * have all exited. It takes no arguments, so it can be handed to afterAll or afterEach as it is.
 */
export async function stopAll(): Promise<void> {
  // Copy first: stop() removes from the set.
  await Promise.all([...running].map((c) => c.stop()));
}

/**
 * SIGKILL to every process started here and not stopped yet; resolves once they have all exited.
 * The signals are sent before it returns, so a process 'exit' handler (where nothing asynchronous
 * runs) can call it without waiting.
 */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop('SIGKILL')));
}

/**
 * Resolves once `child` has written `marker` (its own line saying it listens, so that whatever
 * answers on its port afterwards is this process); throws, with its output, if it exits first.
 */
export async function waitForOutput(started: Child, marker: string, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!started.output().includes(marker)) {
    const { exitCode, signalCode } = started.child;
    if (exitCode !== null || signalCode !== null) throw new Error(`${what} exited (${exitCode ?? signalCode}) before it listened:\n${started.output().slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what} to listen:\n${started.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      if (await check()) return;
      lastError = '';
    } catch (err) {
      // not ready yet
      lastError = ` (last check threw: ${(err as Error).message})`;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${lastError}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
