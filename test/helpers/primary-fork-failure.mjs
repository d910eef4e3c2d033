// Runs Sluice's cluster primary over stub workers (stub-worker.cjs) and makes every fork after
// the first fail to spawn (a working directory that does not exist, as a process limit would
// make it fail). Prints the primary's JSON log lines, then `survived` if the process is still
// up after 2 s. Usage: node primary-fork-failure.mjs
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { ClusterPrimary } from '../../dist/cluster/index.js';
import { createLogger } from '../../dist/telemetry/index.js';

cluster.setupPrimary({ exec: fileURLToPath(new URL('./stub-worker.cjs', import.meta.url)), stdio: 'inherit' });
const primary = new ClusterPrimary(1, createLogger('info'));
primary.attach({ config: {}, answers: new Map(), endpoints: [], primed: true, board: { get: () => undefined }, nextCheckInMs: () => 0, metricsJson: async () => [], responseOwner: () => undefined, responseOwners: () => [] });
primary.start();
cluster.setupPrimary({ cwd: fileURLToPath(new URL('./no-such-directory/', import.meta.url)) });
setTimeout(() => {
  process.stdout.write('survived\n');
  process.exit(0);
}, 2000);
