import { spawnSync } from 'node:child_process';

/** A small reader of the Prometheus text exposition format (0.0.4), enough for contract checks. */

export interface ExposedFamily {
  readonly name: string;
  readonly type: string; // counter, gauge, histogram, summary, untyped
  readonly samples: Array<{ name: string; labels: Record<string, string>; value: number }>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Map<string, ExposedFamily> {
  const families = new Map<string, ExposedFamily>();
  const familyOf = (sampleName: string): ExposedFamily | undefined => {
    const exact = families.get(sampleName);
    if (exact) return exact;
    const base = sampleName.replace(/_(bucket|sum|count)$/, '');
    const family = families.get(base);
    return family && (family.type === 'histogram' || family.type === 'summary') ? family : undefined;
  };
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      families.set(type[1]!, { name: type[1]!, type: type[2]!, samples: [] });
      continue;
    }
    if (line.startsWith('#') || line.trim() === '') continue;
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`unreadable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (sample[2] ?? '').matchAll(LABEL)) labels[name!] = value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const family = familyOf(sample[1]!);
    if (!family) throw new Error(`sample without a # TYPE line: ${line}`);
    family.samples.push({ name: sample[1]!, labels, value: Number(sample[3]) });
  }
  return families;
}

/** Every sample of every family. */
export function allSamples(families: ReadonlyMap<string, ExposedFamily>): Array<ExposedFamily['samples'][number]> {
  return [...families.values()].flatMap((f) => f.samples);
}

/** The value of the first sample with this name whose labels include `labels`. */
export function findSample(families: ReadonlyMap<string, ExposedFamily>, name: string, labels: Record<string, string>): number | undefined {
  return allSamples(families).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/** `promtool check metrics`: Prometheus' parser and linter over an exposition. Returns its complaints. */
export function promtoolCheckMetrics(text: string): { status: number; problems: string[] } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (run.error) throw run.error;
  const problems = `${run.stdout}${run.stderr}`.split('\n').filter(Boolean);
  return { status: run.status ?? -1, problems };
}
