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
