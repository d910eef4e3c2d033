import { connect } from 'node:net';
import { startChild } from '../../bench/lib/child-processes.js';
import { freePort, ROOT, waitFor } from './processes.js';

/** One inline command to the redis-server on `port`, its first reply line. */
export function redisCommand(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.once('data', (d) => {
      socket.destroy();
      resolve(d.toString().split('\r\n')[0]!);
    });
    socket.once('error', reject);
  });
}

/** Debian's redis-server on a free port, in memory only, stopped with the other children by stopAll. */
export async function startRedis(): Promise<number> {
  const port = await freePort();
  startChild('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { cwd: ROOT });
  await waitFor(async () => (await redisCommand(port, 'PING')) === '+PONG', 10_000, 'redis-server');
  return port;
}
