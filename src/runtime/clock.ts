/**
 * The control plane's clock, in milliseconds since the epoch as of this process's start: it
 * moves on with the process and never steps, unlike `Date.now()`, which an NTP step or a VM
 * resumed from a snapshot can move back or forth by hours. Breakers, slow start, cool-downs,
 * request windows, health checks, load staleness and DNS lookups time their intervals with it;
 * read as a date (a status API's `last_check`), it is right to within the steps since the start.
 */
export const monotonicNow = (): number => performance.timeOrigin + performance.now();
