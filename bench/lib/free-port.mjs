// Free loopback ports for the processes the tests and benchmarks start.
//
// Asking the kernel for port 0 and releasing it leaves a window before the child process binds
// it: another caller (the other test file running in parallel, a benchmark's process) may be
// handed the same port, or an outgoing connection may take it as its local port, and the child
// then fails to bind while a stranger answers on its address. So ports are picked below the
// kernel's ephemeral range, which outgoing connections never use, and each is reserved with a
// marker file created exclusively, so no two callers on this machine get the same port within
// RESERVED_MS, long enough for a test file to stop a process and start it again on its port.
import { mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RESERVED_MS = 15 * 60_000;
/** Lowest port picked: clear of the well-known and most registered ports. */
const LOWEST = 20_000;
/** Fewer candidates than this outside the ephemeral range and the kernel picks instead. */
const ENOUGH = 2_000;

/** [low, high] of the kernel's ephemeral range. */
function ephemeralRange() {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low, high];
  } catch {
    // not Linux: the usual default
  }
  return [32_768, 60_999];
}

/** Candidate ports outside the ephemeral range, as [first, last], or undefined when too few. */
function candidates() {
  const [low, high] = ephemeralRange();
  if (low - 1 - LOWEST >= ENOUGH) return [LOWEST, low - 1];
  if (65_535 - (high + 1) >= ENOUGH) return [high + 1, 65_535];
  return undefined;
}

/** Reserves `port` for this caller: true unless another reserved it within RESERVED_MS. */
function reserve(dir, port) {
  const marker = join(dir, String(port));
  try {
    writeFileSync(marker, String(process.pid), { flag: 'wx' });
    return true;
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'EEXIST') throw err;
  }
  try {
    if (Date.now() - statSync(marker).mtimeMs < RESERVED_MS) return false;
    const now = new Date();
    utimesSync(marker, now, now);
    return true;
  } catch {
    // removed meanwhile (a temporary directory cleaned): another port will do
    return false;
  }
}

/** @param {number} port  0 for any. @returns {Promise<number | undefined>} the port bound and released, or undefined when taken */
function tryBind(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, '127.0.0.1', () => {
      const bound = /** @type {import('node:net').AddressInfo} */ (srv.address()).port;
      srv.close(() => resolve(bound));
    });
  });
}

/**
 * A loopback port nothing listens on and no other caller on this machine was given in the last
 * 15 minutes.
 * @returns {Promise<number>}
 */
export async function freePort() {
  const dir = join(tmpdir(), `sluice-ports-${process.getuid?.() ?? 'user'}`);
  mkdirSync(dir, { recursive: true });
  const range = candidates();
  for (let attempt = 0; attempt < 200; attempt++) {
    const pick = range ? range[0] + Math.floor(Math.random() * (range[1] - range[0] + 1)) : await tryBind(0);
    if (pick === undefined || !reserve(dir, pick)) continue;
    if ((await tryBind(pick)) !== undefined) return pick;
  }
  throw new Error('no free loopback port found in 200 attempts');
}
