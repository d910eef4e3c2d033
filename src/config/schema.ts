import { z } from 'zod';
import {
  MESSAGES,
  STICKY_KEY_PATTERN,
  duration,
  endpointUrl,
  integerSchema,
  isIpOrCidr,
  port,
  positiveInt,
  redisUrl,
  size,
  unlessMissing,
  urlPath,
} from './fields.js';
import { adminSchema, authSchema, rateLimitsSchema } from './access-schema.js';
import { DEFAULT_STORED_RESPONSES } from '../affinity/index.js';
import { DEFAULT_PREFIX_OPTIONS, DEFAULT_SCORER_WEIGHTS, STRATEGY_NAMES } from '../balancing/index.js';
import { LOAD_SOURCES, type LoadSourceName } from '../load/index.js';

export const ENDPOINT_TYPES = ['ollama', 'vllm', 'lmstudio', 'llamacpp', 'openai', 'generic'] as const;
export type EndpointType = (typeof ENDPOINT_TYPES)[number];

/** How an endpoint's members are found: `dns` keeps one endpoint per address its host resolves to. */
export const DISCOVER_MODES = ['dns'] as const;
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;

/**
 * What each server family answers on, used when an endpoint does not set its own: health and
 * model-listing paths, and where its load comes from (SGLang, whose type is `generic` or
 * `openai`, sets `load_source: sglang`).
 */
export const ENDPOINT_TYPE_DEFAULTS: Record<
  EndpointType,
  { health_path: string; models_path: string; health_body_contains?: string; load_source: LoadSourceName }
> = {
  ollama: { health_path: '/', models_path: '/api/tags', health_body_contains: 'Ollama is running', load_source: 'ollama' },
  lmstudio: { health_path: '/v1/models', models_path: '/v1/models', load_source: 'lmstudio' },
  vllm: { health_path: '/health', models_path: '/v1/models', load_source: 'vllm' },
  llamacpp: { health_path: '/health', models_path: '/v1/models', load_source: 'none' },
  openai: { health_path: '/v1/models', models_path: '/v1/models', load_source: 'none' },
  generic: { health_path: '/health', models_path: '/v1/models', load_source: 'none' },
};

const scorerWeight = () =>
  z
    .number({ error: unlessMissing(MESSAGES.scorerWeight) })
    .min(0, { error: MESSAGES.scorerWeight })
    .max(100, { error: MESSAGES.scorerWeight });

/** Weights of the load-aware and prefix-aware scorers (as the llm-d router configures its scorers). */
const scorersSchema = z
  .strictObject({
    queue: scorerWeight().default(DEFAULT_SCORER_WEIGHTS.queue),
    kv_cache: scorerWeight().default(DEFAULT_SCORER_WEIGHTS.kvCache),
    prefix: scorerWeight().default(DEFAULT_SCORER_WEIGHTS.prefix),
    resident: scorerWeight().default(DEFAULT_SCORER_WEIGHTS.resident),
  })
  .refine((w) => w.queue + w.kv_cache + w.prefix + w.resident > 0, { error: 'at least one scorer weight must be greater than 0' });

const prefixSchema = z.strictObject({
  block_chars: positiveInt().default(256),
  max_blocks: positiveInt().default(128),
  index_size: positiveInt().default(DEFAULT_PREFIX_OPTIONS.indexSize),
  ttl: duration({ allowZero: false }).default(DEFAULT_PREFIX_OPTIONS.ttlMs),
  max_imbalance_ratio: z
    .number({ error: unlessMissing(MESSAGES.loadFactor) })
    .gt(1, { error: MESSAGES.loadFactor })
    .default(DEFAULT_PREFIX_OPTIONS.maxImbalanceRatio),
  max_imbalance_requests: integerSchema(MESSAGES.nonNegativeInt).min(0, { error: MESSAGES.nonNegativeInt }).default(DEFAULT_PREFIX_OPTIONS.maxImbalanceRequests),
  /**
   * While the distinct prompt blocks of the last minute need at most this fraction of the
   * smallest endpoint's reported KV cache, the prefix is followed only at no queueing cost; 0
   * (the default) disables it: each replica counts only its own traffic, so replicas that split
   * the traffic under pressure took it for room and spread the prefixes (README, routing).
   */
  fit_fraction: z
    .number({ error: unlessMissing(MESSAGES.ratio) })
    .min(0, { error: MESSAGES.ratio })
    .max(1, { error: MESSAGES.ratio })
    .default(DEFAULT_PREFIX_OPTIONS.fitFraction),
});

const storedResponsesSchema = z.strictObject({
  /** Response ids whose creating endpoint is remembered; 0: Responses API follow-ups are routed like any request. */
  max_ids: integerSchema(MESSAGES.nonNegativeInt).min(0, { error: MESSAGES.nonNegativeInt }).default(DEFAULT_STORED_RESPONSES.maxIds),
  ttl: duration({ allowZero: false }).default(DEFAULT_STORED_RESPONSES.ttlMs),
  /** Shared with every replica using this Redis (keys `sluice:resp:*`); null: each process's own (and its workers'). */
  redis_url: redisUrl(),
  redis_timeout: duration({ allowZero: false }).prefault('200ms'),
});

const stickySchema = z.strictObject({
  key: z.string({ error: unlessMissing(MESSAGES.stickyKey) }).regex(STICKY_KEY_PATTERN, { error: MESSAGES.stickyKey }),
  trusted_proxies: z
    .array(z.string({ error: MESSAGES.ipOrCidr }).refine(isIpOrCidr, { error: MESSAGES.ipOrCidr }))
    .default([]),
  max_load_factor: z
    .number({ error: unlessMissing(MESSAGES.loadFactor) })
    .gt(1, { error: MESSAGES.loadFactor })
    .default(1.25),
});

const endpointFields = z.strictObject({
  name: z
    .string({ error: unlessMissing(MESSAGES.endpointName) })
    .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: MESSAGES.endpointName }),
  url: endpointUrl,
  type: z.enum(ENDPOINT_TYPES).default('generic'),
  weight: positiveInt().default(1),
  priority: integerSchema(MESSAGES.integer).default(0),
  backup: z.boolean().default(false),
  max_connections: positiveInt().nullable().default(null),
  check_interval: duration({ allowZero: false }).prefault('5s'),
  check_timeout: duration({ allowZero: false }).prefault('2s'),
  health_path: urlPath().optional(),
  models_path: urlPath().optional(),
  health_expected_status: integerSchema(MESSAGES.healthStatus)
    .min(100, { error: MESSAGES.healthStatus })
    .max(599, { error: MESSAGES.healthStatus })
    .nullable()
    .default(null),
  /** Absent: the type's default; explicit null: no body check at all. */
  health_body_contains: z.string().min(1).nullable().optional(),
  bearer_token_env: z
    .string({ error: unlessMissing(MESSAGES.envName) })
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: MESSAGES.envName })
    .nullable()
    .default(null),
  load_source: z.enum(LOAD_SOURCES).optional(),
  discover: z.enum(DISCOVER_MODES).nullable().default(null),
  discover_interval: duration({ allowZero: false }).prefault('10s'),
  /** This endpoint's first-token deadline for streamed requests; null: `proxy.first_token_timeout`. */
  first_token_timeout: duration({ allowZero: false }).nullable().default(null),
});

export const endpointSchema = endpointFields
  .superRefine((endpoint, ctx) => {
    // Members are reached by their addresses: a certificate issued for the host name would not match any of them.
    if (endpoint.discover === 'dns' && endpoint.url.startsWith('https:')) {
      ctx.addIssue({ code: 'custom', path: ['discover'], message: 'discover: dns is not supported with an https:// url (members are reached by IP address, which a certificate for the host name does not cover); use http://, or list the endpoints' });
    }
  })
  .transform((endpoint) => {
    const typeDefaults = ENDPOINT_TYPE_DEFAULTS[endpoint.type];
    // Listed in file order so rendered configs read like the documentation.
    return {
      name: endpoint.name,
      url: endpoint.url,
      type: endpoint.type,
      weight: endpoint.weight,
      priority: endpoint.priority,
      backup: endpoint.backup,
      max_connections: endpoint.max_connections,
      check_interval: endpoint.check_interval,
      check_timeout: endpoint.check_timeout,
      health_path: endpoint.health_path ?? typeDefaults.health_path,
      models_path: endpoint.models_path ?? typeDefaults.models_path,
      health_expected_status: endpoint.health_expected_status,
      health_body_contains:
        endpoint.health_body_contains === undefined
          ? (typeDefaults.health_body_contains ?? null)
          : endpoint.health_body_contains,
      bearer_token_env: endpoint.bearer_token_env,
      load_source: endpoint.load_source ?? typeDefaults.load_source,
      discover: endpoint.discover,
      discover_interval: endpoint.discover_interval,
      first_token_timeout: endpoint.first_token_timeout,
    };
  });

/** At least one endpoint, names unique (the name labels metrics and logs). */
export const endpointListSchema = z
  .array(endpointSchema, { error: unlessMissing('expected a list of endpoints') })
  .min(1, { error: MESSAGES.atLeastOneEndpoint })
  .superRefine((endpoints, ctx) => {
    const seen = new Set<string>();
    endpoints.forEach((endpoint, index) => {
      if (seen.has(endpoint.name)) {
        ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `duplicate endpoint name "${endpoint.name}"` });
      }
      seen.add(endpoint.name);
    });
  });

const serverSchema = z
  .strictObject({
    host: z.string().min(1).default('0.0.0.0'),
    port: port().default(8080),
    admin_port: port().nullable().default(null),
    /** On SIGTERM/SIGINT, how long in-flight requests and streams may run before they are cut. */
    shutdown_grace: duration({ allowZero: true }).prefault('30s'),
    /** A client must send its request headers within this time (slowloris). */
    headers_timeout: duration({ allowZero: false }).prefault('10s'),
    /** A client must send its whole request (headers and body) within this time. */
    request_timeout: duration({ allowZero: false }).prefault('60s'),
    /** Open client connections at most; further connections are closed at once. */
    max_connections: positiveInt().default(10_000),
    /**
     * Processes serving requests: 1 is one process doing everything; more (or `auto`, one per
     * available core) makes a node:cluster primary that runs the checks and forks that many workers.
     */
    workers: z.union([z.literal('auto'), integerSchema(MESSAGES.workers).positive({ error: MESSAGES.workers })], { error: MESSAGES.workers }).default(1),
    /** Peers whose X-Forwarded-*, Forwarded and X-Real-IP headers are believed (addresses or CIDR blocks). */
    trusted_proxies: z
      .array(z.string({ error: MESSAGES.ipOrCidr }).refine(isIpOrCidr, { error: MESSAGES.ipOrCidr }))
      .default([]),
  })
  .superRefine((server, ctx) => {
    if (server.admin_port !== null && server.admin_port === server.port) {
      ctx.addIssue({ code: 'custom', path: ['admin_port'], message: 'must differ from server.port' });
    }
    if (server.headers_timeout > server.request_timeout) {
      ctx.addIssue({ code: 'custom', path: ['headers_timeout'], message: 'must not exceed server.request_timeout' });
    }
  });

export const configSchema = z.strictObject({
  server: serverSchema.prefault({}),
  logging: z
    .strictObject({
      level: z.enum(LOG_LEVELS).default('info'),
      access_log: z.boolean().default(true),
    })
    .prefault({}),
  limits: z
    .strictObject({
      max_body: size().prefault('10MiB'),
      // Request bodies held in memory at once, per process (see BodyBudget).
      max_body_total: size().prefault('256MiB'),
    })
    .superRefine((limits, ctx) => {
      if (limits.max_body_total < limits.max_body) ctx.addIssue({ code: 'custom', path: ['max_body_total'], message: 'must be at least limits.max_body' });
    })
    .prefault({}),
  balancing: z
    .strictObject({
      strategy: z.enum(STRATEGY_NAMES).default('round-robin'),
      sticky: stickySchema.nullable().default(null),
      scorers: scorersSchema.prefault({}),
      prefix: prefixSchema.prefault({}),
      stored_responses: storedResponsesSchema.prefault({}),
    })
    .prefault({}),
  health: z
    .strictObject({
      rise: positiveInt().default(2),
      fall: positiveInt().default(3),
      degraded_latency: duration({ allowZero: false }).prefault('1s'),
      degraded_error_ratio: z
        .number({ error: unlessMissing(MESSAGES.ratio) })
        .min(0, { error: MESSAGES.ratio })
        .max(1, { error: MESSAGES.ratio })
        .default(0.5),
      slow_start: duration({ allowZero: true }).prefault('30s'),
    })
    .prefault({}),
  breaker: z
    .strictObject({
      failure_threshold: positiveInt().default(5),
      open_duration: duration({ allowZero: false }).prefault('30s'),
      count_5xx: z.boolean().default(true),
    })
    .prefault({}),
  proxy: z
    .strictObject({
      retries: integerSchema(MESSAGES.retries)
        .min(0, { error: MESSAGES.retries })
        .max(10, { error: MESSAGES.retries })
        .default(2),
      retry_on_status: z
        .array(integerSchema(MESSAGES.retryStatus).min(400, { error: MESSAGES.retryStatus }).max(599, { error: MESSAGES.retryStatus }))
        .default([502, 503, 504]),
      connect_timeout: duration({ allowZero: false }).prefault('5s'),
      first_byte_timeout: duration({ allowZero: false }).prefault('300s'),
      idle_timeout: duration({ allowZero: false }).prefault('60s'),
      /** How long a client may leave a response unread (Sluice's buffer full) before its connection is closed. */
      client_stall_timeout: duration({ allowZero: false }).prefault('30s'),
      /**
       * A streamed request whose first token has not come this long after an attempt started is
       * cancelled there and sent to another endpoint (response headers are held back until the
       * first token). null: no deadline, headers pass through as they come.
       */
      first_token_timeout: duration({ allowZero: false }).nullable().default(null),
      /** Retry a request that may have reached a backend even when its method is not idempotent (POST). */
      retry_non_idempotent: z.boolean().default(false),
      /** Paths forwarded to backends: exact, or a prefix with a trailing `*`. Others get a 404. */
      allowed_paths: z
        .array(z.string().regex(/^\/[^\s?#]*$/, { error: 'expected a path starting with "/" (a trailing "*" makes it a prefix)' }))
        .default(['/v1/*', '/api/chat', '/api/generate', '/api/embed', '/api/embeddings', '/api/tags', '/api/show', '/predict']),
      expose_route_headers: z.boolean().default(false),
    })
    .prefault({}),
  load: z
    .strictObject({
      interval: duration({ allowZero: false }).prefault('250ms'),
      timeout: duration({ allowZero: false }).prefault('500ms'),
      stale_after: duration({ allowZero: false }).prefault('2s'),
    })
    .superRefine((load, ctx) => {
      if (load.stale_after < load.interval) ctx.addIssue({ code: 'custom', path: ['stale_after'], message: 'must be at least load.interval' });
    })
    .prefault({}),
  discovery: z
    .strictObject({
      interval: duration({ allowZero: false }).prefault('5m'),
      timeout: duration({ allowZero: false }).prefault('5s'),
      // Each model name is a metric label value: a backend listing without bound would mint series without bound.
      max_models: z.number().int().min(1).max(100_000).default(1000),
    })
    .prefault({}),
  admin: adminSchema.prefault({}),
  auth: authSchema.prefault({}),
  rate_limits: rateLimitsSchema.nullable().default(null),
  endpoints: endpointListSchema,
});

export type SluiceConfig = z.output<typeof configSchema>;
export type EndpointConfig = SluiceConfig['endpoints'][number];
