export { startControl, type Control, type ControlOptions } from './control.js';
export type { Runtime } from './runtime.js';
