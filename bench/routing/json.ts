/** The result file's JSON: indented two spaces like `JSON.stringify(value, null, 2)`, except that an array of numbers stays on one line. */
export function resultJson(value: unknown): string {
  // A round trip first, for JSON's own conversions: NaN to null, undefined fields dropped, toJSON.
  return `${format(JSON.parse(JSON.stringify(value)) as unknown, '')}\n`;
}

function format(value: unknown, indent: string): string {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((v) => typeof v === 'number')) return `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
    return `[\n${value.map((v) => `${inner}${format(v, inner)}`).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${format(v, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}
