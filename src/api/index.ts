export { statusRouter, type StatusSource } from './status.js';
