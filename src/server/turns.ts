import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Requests pipelined on one connection that may wait their turn there; past this many, a request
 * is not held but answered at once (see pipelinedTooDeep), its answer waiting its turn.
 */
export const MAX_WAITING_PER_CONNECTION = 32;

/** The responses of one connection queued behind the one being written, and whether each request has run yet. */
type Queue = Map<ServerResponse, { readonly run: () => void; ran: boolean }>;

const queues = new WeakMap<Socket, Queue>();
const tooDeep = new WeakSet<ServerResponse>();

/**
 * Runs the requests of one connection one after another, each when its response's turn to be
 * written has come, as nginx and Envoy serve HTTP/1.1 pipelining.
 *
 * Node calls the listener for each pipelined request as soon as it is parsed, while their
 * responses are written in order: a client on one connection could have any number of requests
 * running on the backends at once (200 pipelined requests were 200 generations), past
 * `server.max_connections`. And a response queued behind another gets no `close` when the
 * client goes away before its turn (Node leaves it queued): its request was never cancelled,
 * counted as answered, and held in memory with its answer until the process ended.
 *
 * A request whose client leaves before its turn runs then, its response already destroyed and
 * closed (the listener answers it as a client that left). More than MAX_WAITING_PER_CONNECTION
 * requests waiting: the next runs at once, marked (see pipelinedTooDeep), for the listener to
 * refuse; Node stops reading a connection whose queued answers exceed its high-water mark.
 */
export function inTurn(listener: Listener): Listener {
  return (req, res) => {
    if (res.socket) return listener(req, res);
    const socket = req.socket;
    const queue = queueOf(socket);
    const run = () => listener(req, res);
    if (waitingIn(queue) >= MAX_WAITING_PER_CONNECTION) {
      tooDeep.add(res);
      queue.set(res, { run, ran: true });
      res.once('socket', () => queue.delete(res));
      return run();
    }
    const entry = { run, ran: false };
    queue.set(res, entry);
    res.once('socket', () => {
      queue.delete(res);
      if (entry.ran) return;
      entry.ran = true;
      run();
    });
  };
}

/** A request answered at once because too many were already waiting on its connection (see inTurn). */
export function pipelinedTooDeep(res: ServerResponse): boolean {
  return tooDeep.has(res);
}

function queueOf(socket: Socket): Queue {
  let queue = queues.get(socket);
  if (queue) return queue;
  const created: Queue = new Map();
  queues.set(socket, created);
  // One listener per connection, whatever its number of requests.
  socket.once('close', () => {
    for (const [res, entry] of created) {
      abandon(res);
      if (!entry.ran) {
        entry.ran = true;
        entry.run();
      }
    }
    created.clear();
  });
  return created;
}

function waitingIn(queue: Queue): number {
  let waiting = 0;
  for (const entry of queue.values()) if (!entry.ran) waiting++;
  return waiting;
}

const abandoned = new WeakSet<ServerResponse>();

/** A queued response whose connection closed: destroyed, and closed (once) as a response on a closed connection is. */
function abandon(res: ServerResponse): void {
  if (abandoned.has(res) || res.closed) return;
  abandoned.add(res);
  res.destroy();
  res.emit('close');
}
