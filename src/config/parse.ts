import YAML from 'yaml';
import { ConfigError, describeIssue, formatIssues } from './errors.js';
import { configSchema, type SluiceConfig } from './schema.js';

/** Validate an already-parsed object (a YAML document, or values assembled from the environment). Throws ConfigError. */
export function validateConfig(raw: unknown, source?: string): SluiceConfig {
  const result = configSchema.safeParse(raw, { error: describeIssue });
  if (!result.success) throw new ConfigError(formatIssues(result.error.issues), source);
  return result.data;
}

/**
 * Turn YAML text into a plain value, reporting syntax errors (with line and column) as a ConfigError.
 * An empty document is an empty mapping, so the schema can say which keys are required.
 */
export function parseYaml(yamlText: string, source?: string): unknown {
  const document = YAML.parseDocument(yamlText);
  if (document.errors.length > 0) {
    // yaml's messages end with a code excerpt; the first line already names the line and column.
    throw new ConfigError(
      document.errors.map((error) => error.message.split('\n')[0].replace(/:$/, '')),
      source,
    );
  }
  return document.toJS() ?? {};
}

/** Parse and validate YAML text; `source` (usually the file path) prefixes every line of the error message. */
export function parseConfig(yamlText: string, source?: string): SluiceConfig {
  return validateConfig(parseYaml(yamlText, source), source);
}
