import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { IdleSocketSweeper, type PooledSocket } from '../../../src/proxy/idle-sockets.js';

class FakeSocket implements PooledSocket {
  bytesRead = 0;
  bytesWritten = 0;
  destroyed = false;
  destroy(): void {
    this.destroyed = true;
  }
  use(): void {
    this.bytesRead += 100;
    this.bytesWritten += 50;
  }
}

function setup() {
  let now = 0;
  const pool: { freeSockets: Record<string, FakeSocket[] | undefined> } = { freeSockets: {} };
  const sweeper = new IdleSocketSweeper(pool, { idleMs: 4000, everyMs: 500, now: () => now });
  /** Lets `ms` pass, then sweeps. */
  const tick = (ms: number) => {
    now += ms;
    sweeper.sweep();
  };
  return { pool, sweeper, tick };
}

describe('IdleSocketSweeper', () => {
  it('closes a pooled connection between idleMs - everyMs and idleMs after its last use', () => {
    const { pool, sweeper, tick } = setup();
    const socket = new FakeSocket();
    socket.use();
    pool.freeSockets['backend:80:'] = [socket];
    // Returned to the pool just before this sweep: idle for 0 to 500 ms from here.
    sweeper.sweep();
    for (let t = 500; t < 3500; t += 500) {
      tick(500);
      expect(socket.destroyed, `at ${t} ms`).toBe(false);
    }
    tick(500);
    expect(socket.destroyed).toBe(true);
  });

  it('restarts the idle time of a connection used between sweeps', () => {
    const { pool, sweeper, tick } = setup();
    const socket = new FakeSocket();
    pool.freeSockets.a = [socket];
    sweeper.sweep();
    tick(3000);
    socket.use(); // taken from the pool, used, and back before the next sweep
    tick(500);
    tick(3000);
    expect(socket.destroyed).toBe(false);
    tick(500);
    expect(socket.destroyed).toBe(true);
  });

  it('leaves connections in use (not in the pool) alone, and looks at every host', () => {
    const { pool, sweeper, tick } = setup();
    const inUse = new FakeSocket();
    const idleA = new FakeSocket();
    const idleB = new FakeSocket();
    pool.freeSockets = { a: [idleA], b: [idleB], c: undefined };
    sweeper.sweep();
    for (let i = 0; i < 8; i++) tick(500);
    expect([idleA.destroyed, idleB.destroyed, inUse.destroyed]).toEqual([true, true, false]);
  });

  it("closes a real agent's idle keep-alive connection, and the next request opens another", async () => {
    const server = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const agent = new http.Agent({ keepAlive: true });
    const sweeper = new IdleSocketSweeper(agent, { idleMs: 300, everyMs: 50 }).start();
    try {
      const get = () =>
        new Promise<void>((resolve, reject) => {
          http.get({ host: '127.0.0.1', port, agent }, (res) => res.resume().on('end', resolve)).on('error', reject);
        });
      await get();
      const pooled = Object.values(agent.freeSockets).flat();
      expect(pooled).toHaveLength(1);
      // (When it closes is the clock-driven tests' business above.)
      await new Promise<void>((resolve) => pooled[0]!.once('close', () => resolve()));
      expect(Object.values(agent.freeSockets).flat()).toHaveLength(0);
      // A new request opens a new connection, which the pool keeps after it.
      await get();
      expect(Object.values(agent.freeSockets).flat()).toHaveLength(1);
    } finally {
      sweeper.stop();
      agent.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
