export { DnsWatcher, oneFamily, systemResolver, type DnsWatcherOptions, type Resolver } from './dns-watcher.js';
export { expandEndpoints, memberName, portOf, type Answers } from './members.js';
export { planFleet, type FleetPlan, type RunningMember } from './plan.js';
