import type { z } from 'zod';

/**
 * Raised for any invalid configuration: bad YAML, schema violations, bad environment variables.
 * `issues` holds one line per problem ("endpoints[2].weight: expected a positive integer");
 * `message` lists the same issues, one per line, prefixed with the source when one is known.
 */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly issues: string[];
  readonly source: string | undefined;

  constructor(issues: string[], source?: string) {
    super(issues.map((issue) => (source ? `${source}: ${issue}` : issue)).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
    this.source = source;
  }
}

/** ["endpoints", 2, "weight"] -> "endpoints[2].weight"; an optional prefix names the variable the values came from. */
export function formatPath(path: readonly PropertyKey[], prefix = ''): string {
  let out = prefix;
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

function joinPathAndMessage(path: string, message: string): string {
  return path === '' ? message : `${path}: ${message}`;
}

/** The 1-based line in the source file of the value (or key) at a path; undefined when it has none. */
export type LocatePath = (path: readonly PropertyKey[]) => number | undefined;

/**
 * One line per problem; an unknown-keys issue becomes one line per key so each can be fixed on its
 * own. With `locate`, each line ends with the YAML line of the offending key: "(line 14)".
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[], pathPrefix = '', locate?: LocatePath): string[] {
  const at = (path: readonly PropertyKey[]) => {
    const line = locate?.(path);
    return line === undefined ? '' : ` (line ${line})`;
  };
  const lines: string[] = [];
  for (const issue of issues) {
    const path = formatPath(issue.path, pathPrefix);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(joinPathAndMessage(path, `unknown key "${key}"`) + at([...issue.path, key]));
    } else {
      lines.push(joinPathAndMessage(path, issue.message) + at(issue.path));
    }
  }
  return lines;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'null',
};

/** Name a YAML value's type the way a user reading their file would: mapping, list, string... */
export function describeValueType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'string') return `the string "${value}"`;
  if (typeof value === 'boolean') return `${value}`;
  return typeof value;
}

/**
 * Per-parse zod error map giving plain-language messages for issues the schema does not word itself.
 * Returning undefined falls back to zod's own wording.
 */
export function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'required';
      const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
      return `expected ${expected}, got ${describeValueType(issue.input)}`;
    }
    case 'invalid_value':
      return issue.values.length === 1
        ? `expected ${String(issue.values[0])}`
        : `expected one of ${issue.values.map(String).join(', ')}`;
    case 'too_small':
      if (issue.origin === 'array') return `expected at least ${issue.minimum} item${issue.minimum === 1 ? '' : 's'}`;
      if (issue.origin === 'string') return 'must not be empty';
      return `expected a number ${issue.inclusive ? '>=' : '>'} ${issue.minimum}`;
    case 'too_big':
      return `expected a number ${issue.inclusive ? '<=' : '<'} ${issue.maximum}`;
    default:
      return undefined;
  }
}
