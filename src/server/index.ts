export { InFlight, type CutRequest } from './in-flight.js';
