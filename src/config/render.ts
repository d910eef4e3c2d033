import YAML from 'yaml';
import type { SluiceConfig } from './schema.js';
import { formatDuration, formatSize } from './units.js';

/**
 * Replace URL credentials with "***" ("http://user:pw@host/x" -> "http://***@host/x").
 * Works on the text, so even a URL that fails to parse is redacted; the last "@" in the
 * authority ends the credentials, as a password may itself contain "@".
 */
export function redactUrl(url: string): string {
  const schemeEnd = url.indexOf('://');
  if (schemeEnd < 0) return url;
  const authorityStart = schemeEnd + 3;
  const rest = url.slice(authorityStart);
  const authorityLength = rest.search(/[/?#]/);
  const authority = authorityLength < 0 ? rest : rest.slice(0, authorityLength);
  const credentialsEnd = authority.lastIndexOf('@');
  if (credentialsEnd < 0) return url;
  return `${url.slice(0, authorityStart)}***${url.slice(authorityStart + credentialsEnd)}`;
}

/** A Redis URL with its credentials hidden, or null. */
function optionalRedisUrl(url: string | null): string | null {
  return url === null ? null : redactUrl(url);
}

/**
 * The effective configuration as a plain object safe to show: durations and sizes in human units,
 * URL credentials hidden. Bearer tokens never appear because the config only holds the variable's name.
 */
export function redactedConfig(cfg: SluiceConfig): Record<string, unknown> {
  const sticky = cfg.balancing.sticky;
  const stored = cfg.balancing.stored_responses;
  const rateLimits = cfg.rate_limits;
  return {
    server: {
      ...cfg.server,
      trusted_proxies: [...cfg.server.trusted_proxies],
      shutdown_grace: formatDuration(cfg.server.shutdown_grace),
      headers_timeout: formatDuration(cfg.server.headers_timeout),
      request_timeout: formatDuration(cfg.server.request_timeout),
    },
    logging: { ...cfg.logging },
    limits: { ...cfg.limits, max_body: formatSize(cfg.limits.max_body), max_body_total: formatSize(cfg.limits.max_body_total) },
    balancing: {
      ...cfg.balancing,
      sticky: sticky === null ? null : { ...sticky, trusted_proxies: [...sticky.trusted_proxies] },
      scorers: { ...cfg.balancing.scorers },
      prefix: { ...cfg.balancing.prefix, ttl: formatDuration(cfg.balancing.prefix.ttl) },
      stored_responses: { ...stored, ttl: formatDuration(stored.ttl), redis_url: optionalRedisUrl(stored.redis_url), redis_timeout: formatDuration(stored.redis_timeout) },
    },
    health: {
      ...cfg.health,
      degraded_latency: formatDuration(cfg.health.degraded_latency),
      slow_start: formatDuration(cfg.health.slow_start),
    },
    breaker: { ...cfg.breaker, open_duration: formatDuration(cfg.breaker.open_duration) },
    proxy: {
      ...cfg.proxy,
      retry_on_status: [...cfg.proxy.retry_on_status],
      connect_timeout: formatDuration(cfg.proxy.connect_timeout),
      first_byte_timeout: formatDuration(cfg.proxy.first_byte_timeout),
      idle_timeout: formatDuration(cfg.proxy.idle_timeout),
      client_stall_timeout: formatDuration(cfg.proxy.client_stall_timeout),
      first_token_timeout: optionalDuration(cfg.proxy.first_token_timeout),
      allowed_paths: [...cfg.proxy.allowed_paths],
    },
    load: {
      interval: formatDuration(cfg.load.interval),
      timeout: formatDuration(cfg.load.timeout),
      stale_after: formatDuration(cfg.load.stale_after),
    },
    discovery: {
      interval: formatDuration(cfg.discovery.interval),
      timeout: formatDuration(cfg.discovery.timeout),
      max_models: cfg.discovery.max_models,
    },
    admin: { allow: [...cfg.admin.allow], bearer_token_env: cfg.admin.bearer_token_env },
    auth: { api_keys: cfg.auth.api_keys.map((k) => ({ name: k.name, ...(k.key_env === null ? {} : { key_env: k.key_env }), ...(k.key_file === null ? {} : { key_file: k.key_file }) })), invalid_keys_per_minute: cfg.auth.invalid_keys_per_minute },
    rate_limits: rateLimits === null ? null : { ...rateLimits, period: formatDuration(rateLimits.period), redis_url: optionalRedisUrl(rateLimits.redis_url), redis_timeout: formatDuration(rateLimits.redis_timeout) },
    endpoints: cfg.endpoints.map((endpoint) => ({
      ...endpoint,
      url: redactUrl(endpoint.url),
      check_interval: formatDuration(endpoint.check_interval),
      check_timeout: formatDuration(endpoint.check_timeout),
      discover_interval: formatDuration(endpoint.discover_interval),
      first_token_timeout: optionalDuration(endpoint.first_token_timeout),
    })),
  };
}

/** The effective configuration as YAML, for `sluice check-config`; valid input for parseConfig again. */
export function renderEffectiveConfig(cfg: SluiceConfig): string {
  return YAML.stringify(redactedConfig(cfg), { lineWidth: 0 });
}

function optionalDuration(ms: number | null): string | null {
  return ms === null ? null : formatDuration(ms);
}
