// Runs Sluice's cluster primary (dist/cluster) over two stub workers (metrics-stub-worker.cjs) and
// scrapes its merged metrics in one of these scenarios, given as the argument:
//   died-after-answering: worker 0 answers a scrape at once and exits while worker 1 has not
//     answered it yet; then a scrape after that.
//   endpoint-left: worker 0 dies with counts of endpoints a and b; b then leaves the fleet, is
//     drained in worker 1 a scrape later.
// Prints one JSON line: each scrape's `requests_total` per endpoint.
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { ClusterPrimary } from '../../dist/cluster/index.js';
import { createLogger } from '../../dist/telemetry/index.js';

const scenario = process.argv[2];
cluster.setupPrimary({ exec: fileURLToPath(new URL('./metrics-stub-worker.cjs', import.meta.url)) });

/** An endpoint as far as the primary's state messages read it. */
const endpoint = (name) => ({ name, modelsKnown: false, health: { snapshot: () => ({}) } });
let fleet = [endpoint('a'), endpoint('b')];
const primary = new ClusterPrimary(2, createLogger('error'));
primary.attach({
  config: {},
  answers: new Map(),
  get endpoints() {
    return fleet;
  },
  primed: true,
  board: { get: () => undefined },
  nextCheckInMs: () => 0,
  metricsJson: async () => [],
  responseOwner: () => undefined,
  responseOwners: () => [],
});

/** The latest worker of each slot, and a promise per slot for the next one to start. */
const workers = new Map();
const started = new Map();
const nextStart = (slot) => {
  let resolve;
  started.set(slot, { promise: new Promise((r) => (resolve = r)), resolve });
};
nextStart(0);
nextStart(1);
const scraped = new Map();
cluster.on('message', (worker, m) => {
  if (m?.type === 'test:up') {
    workers.set(m.slot, worker);
    const { resolve } = started.get(m.slot);
    nextStart(m.slot);
    resolve();
  }
  if (m?.type === 'test:scraped') scraped.get(m.id)?.(m.body);
});

const counter = (byEndpoint) => [
  { name: 'requests_total', help: 'requests', type: 'counter', aggregator: 'sum', values: Object.entries(byEndpoint).map(([ep, value]) => ({ value, labels: { endpoint: ep } })) },
];
const tell = (slot, metrics, options = {}) => workers.get(slot).send({ type: 'test:answer', metrics, hold: false, exitAfterAnswer: false, ...options });
let nextId = 0;
/** A scrape through slot 1's worker: `requests_total` per endpoint. */
async function scrape() {
  const id = nextId++;
  const body = await new Promise((resolve) => {
    scraped.set(id, resolve);
    workers.get(1).send({ type: 'test:scrape', id });
  });
  return Object.fromEntries([...body.matchAll(/^requests_total\{endpoint="(\w+)"\} (\d+)$/gm)].map(([, ep, value]) => [ep, Number(value)]));
}

const firstStarts = [started.get(0).promise, started.get(1).promise];
primary.start();
await Promise.all(firstStarts);
const restarted = started.get(0).promise;
const scrapes = [];
if (scenario === 'died-after-answering') {
  tell(0, counter({ a: 10 }), { exitAfterAnswer: true });
  tell(1, counter({ a: 5 }), { hold: true });
  const dead = workers.get(0);
  // Worker 1 answers once the primary has seen worker 0 exit (its own exit listener came first).
  cluster.on('exit', (worker) => {
    if (worker === dead) workers.get(1).send({ type: 'test:release' });
  });
  scrapes.push(await scrape());
  tell(1, counter({ a: 5 }));
  await restarted;
  scrapes.push(await scrape());
} else if (scenario === 'endpoint-left') {
  tell(0, counter({ a: 10, b: 4 }), { exitAfterAnswer: true });
  tell(1, counter({ a: 5, b: 1 }));
  scrapes.push(await scrape());
  await restarted;
  // A reload takes b out of the fleet; worker 1 still drains it, then has drained it.
  fleet = [endpoint('a')];
  scrapes.push(await scrape());
  tell(1, counter({ a: 5 }));
  scrapes.push(await scrape());
} else throw new Error(`unknown scenario ${scenario}`);
process.stdout.write(`${JSON.stringify({ scrapes })}\n`);
await primary.stopWorkers();
process.exit(0);
