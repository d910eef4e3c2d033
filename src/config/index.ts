export { ConfigError, formatIssues, formatPath } from './errors.js';
export { MAX_TIMER_MS } from './fields.js';
export { loadConfig, NO_CONFIGURATION_MESSAGE, type LoadConfigOptions } from './load.js';
export { parseConfig, validateConfig } from './parse.js';
export { redactUrl, redactedConfig, renderEffectiveConfig } from './render.js';
export {
  DISCOVER_MODES,
  ENDPOINT_TYPES,
  ENDPOINT_TYPE_DEFAULTS,
  LOG_LEVELS,
  type EndpointConfig,
  type EndpointType,
  type SluiceConfig,
} from './schema.js';
export { formatDuration, formatSize, parseDuration, parseSize } from './units.js';
export {
  ANONYMOUS_CLIENT,
  CLIENT_NAME_PATTERN,
  DEFAULT_ADMIN_ALLOW,
  type AdminConfig,
  type AuthConfig,
  type RateLimitsConfig,
} from './access-schema.js';
