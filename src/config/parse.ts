import YAML from 'yaml';
import { ConfigError, describeIssue, formatIssues, type LocatePath } from './errors.js';
import { configSchema, type SluiceConfig } from './schema.js';

/**
 * Validate an already-parsed object (a YAML document, or values assembled from the environment).
 * `locate` names the source line of each offending key. Throws ConfigError.
 */
export function validateConfig(raw: unknown, source?: string, locate?: LocatePath): SluiceConfig {
  const result = configSchema.safeParse(raw, { error: describeIssue });
  if (!result.success) throw new ConfigError(formatIssues(result.error.issues, '', locate), source);
  return result.data;
}

export interface ParsedYaml {
  readonly value: unknown;
  readonly locate: LocatePath;
}

/**
 * Line of the node at `path` (its key's line inside a mapping). A path that ends in a missing key
 * points at the deepest mapping or list it does reach, unless that is the document itself.
 */
function locator(document: YAML.Document, lines: YAML.LineCounter): LocatePath {
  const lineAt = (node: YAML.Node | null | undefined) => (node?.range ? lines.linePos(node.range[0]).line : undefined);
  return (path) => {
    let node: unknown = document.contents;
    let line: number | undefined;
    for (const segment of path) {
      if (YAML.isMap(node)) {
        const pair = node.items.find((item) => YAML.isScalar(item.key) && String(item.key.value) === String(segment));
        if (!pair) return line;
        line = lineAt(pair.key as YAML.Node) ?? lineAt(pair.value as YAML.Node);
        node = pair.value;
      } else if (YAML.isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment];
        if (!YAML.isNode(item)) return line;
        line = lineAt(item);
        node = item;
      } else {
        return line;
      }
    }
    return line;
  };
}

/**
 * Turn YAML text into a plain value, reporting syntax errors (with line and column) as a ConfigError.
 * An empty document is an empty mapping, so the schema can say which keys are required.
 */
export function parseYamlDocument(yamlText: string, source?: string): ParsedYaml {
  const lines = new YAML.LineCounter();
  const document = YAML.parseDocument(yamlText, { lineCounter: lines });
  if (document.errors.length > 0) {
    // yaml's messages end with a code excerpt; the first line already names the line and column.
    throw new ConfigError(
      document.errors.map((error) => error.message.split('\n')[0].replace(/:$/, '')),
      source,
    );
  }
  return { value: document.toJS() ?? {}, locate: locator(document, lines) };
}

/** Parse and validate YAML text; `source` (usually the file path) prefixes every line of the error message. */
export function parseConfig(yamlText: string, source?: string): SluiceConfig {
  const { value, locate } = parseYamlDocument(yamlText, source);
  return validateConfig(value, source, locate);
}
