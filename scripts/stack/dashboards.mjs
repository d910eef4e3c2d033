#!/usr/bin/env node
// Generates the Grafana dashboards in dashboards/*.json. Edit this file, not the JSON:
//   node scripts/stack/dashboards.mjs            rewrite dashboards/*.json
//   node scripts/stack/dashboards.mjs --out DIR  write them somewhere else (the tests compare)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { overview } from './overview.mjs';
import { endpointDetail } from './endpoint-detail.mjs';

export const DASHBOARDS = { 'sluice-overview.json': overview, 'sluice-endpoint.json': endpointDetail };

export function renderDashboards() {
  return Object.fromEntries(Object.entries(DASHBOARDS).map(([file, build]) => [file, `${JSON.stringify(build(), null, 2)}\n`]));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  const outDir = values.out ?? fileURLToPath(new URL('../../dashboards', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  for (const [file, text] of Object.entries(renderDashboards())) writeFileSync(join(outDir, file), text);
}
