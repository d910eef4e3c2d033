import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AccessMetrics } from '../../../src/access/metrics.js';
import { SluiceMetrics } from '../../../src/telemetry/metrics.js';
import { SLUICE_METRICS } from '../../stack/metric-contract.js';

/** Metric names as the code registers them (histograms and counters by family name). */
function namesInCode(): string[] {
  const metrics = new SluiceMetrics({ endpoints: () => [], modelAvailability: () => new Map(), endpointLoads: () => [], prefixIndexSize: () => 0, requestBodiesHeld: () => 0 }, { version: 'test' });
  new AccessMetrics(metrics); // registers its counters with Sluice's registries
  return metrics.textRegistry
    .getMetricsAsArray()
    .map((m) => m.name)
    .filter((n) => n.startsWith('sluice_'))
    .sort();
}

function namesInReadme(): string[] {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Metrics'), readme.indexOf('\n## ', readme.indexOf('## Metrics') + 1));
  return [...section.matchAll(/^\| `(sluice_[a-z_]+)` \| (\w+) \| ([^|]*) \|/gm)].map((m) => m[1]!).sort();
}

describe('metric names agree everywhere', () => {
  it('the code registers exactly the contract', () => {
    expect(namesInCode()).toEqual(SLUICE_METRICS.map((m) => m.name).sort());
  });

  it('the README reference lists exactly the contract, with its types and labels', () => {
    expect(namesInReadme()).toEqual(SLUICE_METRICS.map((m) => m.name).sort());
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    for (const spec of SLUICE_METRICS) {
      const row = new RegExp(`^\\| \`${spec.name}\` \\| (\\w+) \\| ([^|]*) \\|`, 'm').exec(readme)!;
      expect(row[1], `${spec.name} type in README`).toBe(spec.type);
      expect(row[2]!.split(',').map((l) => l.trim()).filter(Boolean).sort(), `${spec.name} labels in README`).toEqual([...spec.labels].sort());
    }
  });
});
