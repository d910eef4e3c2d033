import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../bench/lib/free-port.mjs';
import { ROOT } from '../helpers/processes.js';

const [ephemeralLow, ephemeralHigh] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [number, number];

// The ports the tests and benchmarks start their processes on: a port handed out is reserved, so
// that a second caller, in this process or another, cannot be given it while the first caller's
// process is still starting (the kernel's port 0, bound and released, gave no such promise).
describe('freePort', () => {
  it('picks ports outside the kernel\'s ephemeral range, where no outgoing connection takes one', async () => {
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      expect(port < ephemeralLow || port > ephemeralHigh, `${port} in ${ephemeralLow}-${ephemeralHigh}`).toBe(true);
    }
  });

  it('never hands out the same port twice, in one process or across two', async () => {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', `
      const { freePort } = await import(${JSON.stringify(join(ROOT, 'bench/lib/free-port.mjs'))});
      const ports = [];
      for (let i = 0; i < 150; i++) ports.push(await freePort());
      console.log(JSON.stringify(ports));
    `], { encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    const theirs = JSON.parse(child.stdout) as number[];
    const ours: number[] = [];
    for (let i = 0; i < 300; i++) ours.push(await freePort());
    // Drawn at random from about 12,000 ports, 450 draws repeat one with near certainty unless reserved.
    expect(new Set([...ours, ...theirs]).size).toBe(450);
  });
});
