import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ok, scriptedBackends } from '../helpers/backends.js';
import { startSluice, stopAll, type SluiceProc } from '../helpers/processes.js';

const backends = scriptedBackends();

afterEach(stopAll);
afterAll(() => backends.closeAll());

/** A Sluice on one scripted backend, healthy, with its config directory checked to exist. */
async function minimalSluice(): Promise<SluiceProc> {
  const backend = await backends.backend(ok);
  const sluice = await startSluice((port) => `server:\n  host: 127.0.0.1\n  port: ${port}\nlogging:\n  access_log: false\nendpoints:\n  - name: only\n    url: ${backend.url}\n    check_interval: 1m\n`);
  expect(existsSync(sluice.configPath)).toBe(true);
  return sluice;
}

describe('startSluice cleans up its temporary directory', () => {
  it('removes it once the process is stopped', async () => {
    const sluice = await minimalSluice();
    await sluice.proc.stop();
    expect(sluice.proc.child.exitCode !== null || sluice.proc.child.signalCode !== null).toBe(true);
    expect(existsSync(dirname(sluice.configPath))).toBe(false);
  });

  it('removes it in stopAll, for a Sluice still running and for one that had exited on its own', async () => {
    const running = await minimalSluice();
    const exited = await minimalSluice();
    const exit = new Promise<void>((resolve) => exited.proc.child.once('exit', () => resolve()));
    exited.proc.child.kill('SIGTERM');
    await exit;
    // The process is gone but nothing has stopped it through the helper: the directory is kept
    // (a test may still read it) until stopAll.
    expect(existsSync(dirname(exited.configPath))).toBe(true);
    await stopAll();
    expect(existsSync(dirname(running.configPath))).toBe(false);
    expect(existsSync(dirname(exited.configPath))).toBe(false);
  });
});
