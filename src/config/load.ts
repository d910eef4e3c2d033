import { readFileSync } from 'node:fs';
import { ConfigError, describeIssue, formatIssues } from './errors.js';
import { parseYamlDocument, validateConfig, type ParsedYaml } from './parse.js';
import { MESSAGES } from './fields.js';
import { missingAccessSecrets } from './access-schema.js';
import { ENDPOINT_TYPES, LOG_LEVELS, endpointListSchema, type EndpointType, type SluiceConfig } from './schema.js';

export interface LoadConfigOptions {
  /** Configuration file; when absent SLUICE_CONFIG is used, and with neither the environment alone must suffice. */
  path?: string;
  env?: NodeJS.ProcessEnv;
}

export const NO_CONFIGURATION_MESSAGE = 'no configuration: pass --config FILE or set SLUICE_CONFIG or SLUICE_ENDPOINTS';

/** Values taken from the environment, already checked, in the file's raw (YAML) shape. */
interface EnvOverrides {
  port?: number;
  logLevel?: string;
  endpoints?: Array<{ name: string; url: string; type: EndpointType }>;
}

/** An empty variable counts as unset, as shells and container runtimes often export empty values. */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function readConfigFile(path: string): ParsedYaml {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError([`cannot read configuration file: ${reason}`], path);
  }
  return parseYamlDocument(text, path);
}

/** "a=http://h:1,http://h:2" -> entries; an entry is "name=url" when the part before "=" cannot belong to a URL. */
function parseEndpointList(text: string, type: EndpointType): Array<{ name: string; url: string; type: EndpointType }> {
  const entries = text.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  return entries.map((entry, index) => {
    const separator = entry.indexOf('=');
    const head = separator > 0 ? entry.slice(0, separator) : '';
    if (head !== '' && !/[:/]/.test(head)) {
      return { name: head.trim(), url: entry.slice(separator + 1).trim(), type };
    }
    return { name: `endpoint-${index + 1}`, url: entry, type };
  });
}

function readEnvOverrides(env: NodeJS.ProcessEnv): { overrides: EnvOverrides; issues: string[] } {
  const overrides: EnvOverrides = {};
  const issues: string[] = [];

  const port = envValue(env, 'SLUICE_PORT');
  if (port !== undefined) {
    const portNumber = Number(port);
    if (/^\d+$/.test(port) && portNumber >= 1 && portNumber <= 65535) overrides.port = portNumber;
    else issues.push(`SLUICE_PORT: ${MESSAGES.port}`);
  }

  const logLevel = envValue(env, 'SLUICE_LOG_LEVEL');
  if (logLevel !== undefined) {
    if ((LOG_LEVELS as readonly string[]).includes(logLevel)) overrides.logLevel = logLevel;
    else issues.push(`SLUICE_LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}`);
  }

  let endpointType: EndpointType = 'generic';
  const typeText = envValue(env, 'SLUICE_ENDPOINT_TYPE');
  if (typeText !== undefined) {
    const known = ENDPOINT_TYPES.find((type) => type === typeText);
    if (known) endpointType = known;
    else issues.push(`SLUICE_ENDPOINT_TYPE: expected one of ${ENDPOINT_TYPES.join(', ')}`);
  }

  const endpointsText = envValue(env, 'SLUICE_ENDPOINTS');
  if (endpointsText !== undefined) {
    const endpoints = parseEndpointList(endpointsText, endpointType);
    const checked = endpointListSchema.safeParse(endpoints, { error: describeIssue });
    if (checked.success) overrides.endpoints = endpoints;
    else issues.push(...formatIssues(checked.error.issues, 'SLUICE_ENDPOINTS'));
  }

  return { overrides, issues };
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Overlay environment values on the file's raw content; a malformed section is left for the schema to report. */
function applyOverrides(raw: unknown, overrides: EnvOverrides): unknown {
  if (!isMapping(raw)) return raw;
  const merged: Record<string, unknown> = { ...raw };
  const overlay = (section: string, key: string, value: unknown): void => {
    const current = merged[section] ?? {};
    if (isMapping(current)) merged[section] = { ...current, [key]: value };
  };
  if (overrides.port !== undefined) overlay('server', 'port', overrides.port);
  if (overrides.logLevel !== undefined) overlay('logging', 'level', overrides.logLevel);
  if (overrides.endpoints !== undefined) merged.endpoints = overrides.endpoints;
  return merged;
}

/** Outbound tokens are read when Sluice starts or reloads; a missing variable is a deployment mistake worth failing on early. */
function missingTokenVariables(config: SluiceConfig, env: NodeJS.ProcessEnv): string[] {
  const issues: string[] = [];
  config.endpoints.forEach((endpoint, index) => {
    const variable = endpoint.bearer_token_env;
    if (variable !== null && envValue(env, variable) === undefined) {
      issues.push(`endpoints[${index}].bearer_token_env: environment variable ${variable} is not set`);
    }
  });
  return issues;
}

/**
 * Resolve the configuration from an optional file plus the environment:
 * SLUICE_CONFIG (file, when no explicit path), SLUICE_PORT, SLUICE_LOG_LEVEL,
 * SLUICE_ENDPOINTS (comma-separated `url` or `name=url`, replacing the file's endpoints) and
 * SLUICE_ENDPOINT_TYPE (type of those endpoints, default generic). Throws ConfigError.
 */
export function loadConfig(options: LoadConfigOptions = {}): SluiceConfig {
  const env = options.env ?? process.env;
  const path = options.path ?? envValue(env, 'SLUICE_CONFIG');
  if (path === undefined && envValue(env, 'SLUICE_ENDPOINTS') === undefined) {
    throw new ConfigError([NO_CONFIGURATION_MESSAGE]);
  }

  const { overrides, issues } = readEnvOverrides(env);
  if (issues.length > 0) throw new ConfigError(issues);

  const file = path === undefined ? undefined : readConfigFile(path);
  // Lines point into the file, so not at endpoints that SLUICE_ENDPOINTS replaced.
  const locate = file && ((at: readonly PropertyKey[]) => (overrides.endpoints !== undefined && at[0] === 'endpoints' ? undefined : file.locate(at)));
  const config = validateConfig(applyOverrides(file?.value ?? {}, overrides), path, locate);

  const missing = [...missingTokenVariables(config, env), ...missingAccessSecrets(config, env)];
  if (missing.length > 0) throw new ConfigError(missing, path);
  return config;
}
