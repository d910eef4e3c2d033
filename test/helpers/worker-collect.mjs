// Drives Sluice's cluster worker link (dist/cluster) in a process of its own, with the IPC channel
// replaced by a recorder: asks for its metrics before it serves, then when rendering them fails.
// Prints one JSON line: what it sent the primary, and any unhandled rejection.
import { ClusterWorker } from '../../dist/cluster/index.js';

const sent = [];
const rejections = [];
Object.defineProperty(process, 'connected', { value: true, configurable: true });
process.send = (message, _handle, _options, callback) => {
  sent.push(message.type === 'sluice:worker-metrics' ? { type: message.type, id: message.id, metrics: message.metrics } : { type: message.type });
  callback?.();
  return true;
};
process.on('unhandledRejection', (err) => rejections.push(String(err?.message ?? err)));
const joined = ClusterWorker.join();
process.emit('message', { type: 'sluice:config', config: {}, answers: new Map(), reload: false });
const { worker } = await joined;
process.emit('message', { type: 'sluice:collect-metrics', id: 1 });
await new Promise((r) => setTimeout(r, 50));
worker.attach({ endpoint: () => undefined, board: {}, modelsChanged() {}, reload() {}, membersChanged() {}, metricsJson: () => Promise.reject(new Error('rendering failed')) });
process.emit('message', { type: 'sluice:collect-metrics', id: 2 });
await new Promise((r) => setTimeout(r, 50));
process.stdout.write(`${JSON.stringify({ sent, rejections })}\n`);
process.exit(0);
