import { createRequire } from 'node:module';

/** Sluice's version, as package.json gives it: in metrics, status and start-up logs. */
export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
