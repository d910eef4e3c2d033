export { InFlight, wasCutAtShutdown, type CutRequest } from './in-flight.js';
export { startListeners, type Listeners, type ListenersOptions } from './listeners.js';
export { collectStartupGarbage } from './heap.js';
export { stopSignal } from './stop-signal.js';
export { waitTurn, MAX_WAITING_PER_CONNECTION } from './turns.js';
