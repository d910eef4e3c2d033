export { ClusterPrimary } from './primary.js';
export type { ClusterSide, ControlView, PrimarySide, ReplicaTarget, WorkerSide } from './side.js';
export { ClusterWorker } from './worker.js';
export { workerCount } from './worker-count.js';
