import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

type Listener = (req: IncomingMessage, res: ServerResponse) => string | void;

/** Forwarded requests pipelined on one connection that may wait their turn there (see waitTurn). */
export const MAX_WAITING_PER_CONNECTION = 32;

/** One connection's responses queued behind the one being written, and its requests waiting for their turn. */
interface Queue {
  readonly queued: Set<ServerResponse>;
  waiting: number;
}

const queues = new WeakMap<Socket, Queue>();
const abandoned = new WeakSet<ServerResponse>();

/**
 * Closes the responses queued behind another on a connection (HTTP/1.1 pipelining) when the
 * connection closes before their turn. Node leaves them as they are, never closed: their
 * requests were not cancelled, were counted as answered, and stayed in memory with their answers
 * (and in the shutdown's in-flight count) until the process ended.
 */
export function closingQueued(listener: Listener): Listener {
  return (req, res) => {
    if (!res.socket) {
      const queue = queueOf(req.socket);
      queue.queued.add(res);
      res.once('socket', () => queue.queued.delete(res));
    }
    return listener(req, res);
  };
}

/**
 * When a request may be forwarded: undefined when now (its response is the one its connection
 * writes, as for every request but a pipelined one); a promise when its response is queued behind
 * others on its connection, true when its turn has come, false when the connection closed first;
 * `too_deep` when MAX_WAITING_PER_CONNECTION requests already wait there.
 *
 * Node calls the request listener for each pipelined request as soon as it is parsed and writes
 * their responses in order: forwarded at once, one connection had any number of requests running
 * on the backends (200 pipelined requests were 200 generations at once), past
 * `server.max_connections`. nginx and Envoy serve them one at a time. The body is read meanwhile
 * (it is in the connection's way), up to `limits.max_body` each.
 */
export function waitTurn(req: IncomingMessage, res: ServerResponse): Promise<boolean> | 'too_deep' | undefined {
  if (res.socket) return undefined;
  const queue = queueOf(req.socket);
  if (abandoned.has(res) || req.socket.destroyed) return Promise.resolve(false);
  if (queue.waiting >= MAX_WAITING_PER_CONNECTION) return 'too_deep';
  queue.waiting++;
  return new Promise((resolve) => {
    const settle = (mine: boolean) => {
      res.off('socket', onTurn);
      res.off('close', onClose);
      queue.waiting--;
      resolve(mine);
    };
    const onTurn = () => settle(true);
    const onClose = () => settle(false);
    res.once('socket', onTurn);
    res.once('close', onClose);
  });
}

function queueOf(socket: Socket): Queue {
  let queue = queues.get(socket);
  if (queue) return queue;
  const created: Queue = { queued: new Set(), waiting: 0 };
  queues.set(socket, created);
  // One listener per connection, whatever its number of requests.
  socket.once('close', () => {
    for (const res of created.queued) abandon(res);
    created.queued.clear();
  });
  return created;
}

/** A queued response whose connection closed: destroyed, and closed (once) as a response on a closed connection is. */
function abandon(res: ServerResponse): void {
  if (abandoned.has(res) || res.closed) return;
  abandoned.add(res);
  res.destroy();
  res.emit('close');
}
