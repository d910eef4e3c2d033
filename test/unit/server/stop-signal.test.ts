import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

interface Outcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly out: string;
}

/**
 * Runs `body` in a fresh Node process with the built `stopSignal` imported, waits for it to print
 * `ready`, sends it one SIGTERM and returns how it ended. Signals go to a process of its own, not
 * to the test runner: what is tested is what a signal that finds no listener does (ends the process).
 */
async function run(body: string): Promise<Outcome> {
  const url = new URL('../../../dist/server/stop-signal.js', import.meta.url).href;
  const script = `
    const { stopSignal } = await import(${JSON.stringify(url)});
    // Signal listeners do not keep a process running; this timer does, until the script calls
    // done() (10 s at most, for a script that never gets there).
    const keep = setTimeout(() => process.stdout.write('gave up\\n'), 10_000);
    const done = () => clearTimeout(keep);
    ${body}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<Outcome>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, out })));
  const deadline = Date.now() + 10_000;
  while (!out.includes('ready\n')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the child did not get ready: ${err}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill('SIGTERM');
  const outcome = await exited;
  expect(err).toBe('');
  return outcome;
}

describe('stopSignal', () => {
  // A cluster worker stopped through its process group (systemd's KillMode=control-group,
  // `kill -TERM -PGID`) gets two SIGTERMs about together: the group's, and the one its primary
  // passes on. The second must reach `again` (which the worker ignores while its primary is
  // there), whenever it lands. Here it is sent at the moment the first one's handling leaves
  // SIGTERM without a listener, if it ever does: the gap where Node gives a signal its default
  // action, and the process ends, cutting every request in flight.
  it('a second SIGTERM at any moment after the first reaches `again`; none finds the process without a listener', async () => {
    const outcome = await run(`
      process.on('removeListener', (type) => {
        if (type === 'SIGTERM' && process.listenerCount('SIGTERM') === 0) {
          process.stdout.write('no SIGTERM listener\\n');
          process.kill(process.pid, 'SIGTERM');
        }
      });
      const stopped = stopSignal(() => {
        process.stdout.write('again\\n');
        done();
      }, ['SIGTERM']);
      process.stdout.write('ready\\n');
      await stopped;
      process.stdout.write('stopping\\n');
      // And one more during the drain, sent after the first was handled.
      process.kill(process.pid, 'SIGTERM');`);
    expect(outcome).toEqual({ code: 0, signal: null, out: 'ready\nstopping\nagain\n' });
  });

  it('resolves at the first of the signals; later ones of any of them call `again`', async () => {
    const outcome = await run(`
      let again = 0;
      const stopped = stopSignal(() => {
        again++;
        process.stdout.write('again ' + again + '\\n');
        if (again === 1) process.kill(process.pid, 'SIGTERM');
        else done();
      }, ['SIGINT', 'SIGTERM']);
      process.stdout.write('ready\\n');
      await stopped;
      process.stdout.write('stopping\\n');
      process.kill(process.pid, 'SIGINT');`);
    expect(outcome).toEqual({ code: 0, signal: null, out: 'ready\nstopping\nagain 1\nagain 2\n' });
  });
});
