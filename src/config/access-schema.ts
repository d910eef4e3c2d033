import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { MESSAGES, duration, integerSchema, isIpOrCidr, positiveInt, redisUrl, unlessMissing } from './fields.js';

/** Sections for who may use Sluice: the admin surface, inbound API keys and rate limits. */

/** Loopback and private ranges: Prometheus in Docker Compose and in Kubernetes scrapes from these. */
export const DEFAULT_ADMIN_ALLOW = ['127.0.0.0/8', '::1', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'] as const;

/** Names that appear as the `client` metric label and in logs: same alphabet as endpoint names. */
export const CLIENT_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
/** The `client` label of requests that carry no configured key. */
export const ANONYMOUS_CLIENT = 'anonymous';

const envName = z
  .string({ error: unlessMissing(MESSAGES.envName) })
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: MESSAGES.envName });

const ipOrCidrList = z.array(z.string({ error: MESSAGES.ipOrCidr }).refine(isIpOrCidr, { error: MESSAGES.ipOrCidr }));

export const adminSchema = z.strictObject({
  allow: ipOrCidrList.default([...DEFAULT_ADMIN_ALLOW]),
  bearer_token_env: envName.nullable().default(null),
});

const apiKeySchema = z
  .strictObject({
    name: z
      .string({ error: unlessMissing(MESSAGES.endpointName) })
      .regex(CLIENT_NAME_PATTERN, { error: MESSAGES.endpointName })
      .refine((n) => n !== ANONYMOUS_CLIENT, { error: `"${ANONYMOUS_CLIENT}" is reserved for requests without a key` }),
    key_env: envName.optional(),
    key_file: z.string().min(1).optional(),
  })
  .refine((k) => (k.key_env === undefined) !== (k.key_file === undefined), { error: 'set exactly one of key_env and key_file' })
  .transform((k) => ({ name: k.name, key_env: k.key_env ?? null, key_file: k.key_file ?? null }));

export const authSchema = z.strictObject({
  api_keys: z
    .array(apiKeySchema)
    .default([])
    .superRefine((keys, ctx) => {
      const seen = new Set<string>();
      keys.forEach((k, index) => {
        if (seen.has(k.name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `duplicate key name "${k.name}"` });
        seen.add(k.name);
      });
    }),
  /**
   * Wrong API keys one client address may present a minute (that many at once, then that many a
   * minute); past it, its requests with a key get 429 without the key being checked. 0: no limit.
   */
  invalid_keys_per_minute: integerSchema(MESSAGES.nonNegativeInt).min(0, { error: MESSAGES.nonNegativeInt }).default(10),
});

const wholeSeconds = duration({ allowZero: false }).refine((ms) => ms % 1000 === 0, { error: 'expected whole seconds, like 1s or 1m' });

export const rateLimitsSchema = z
  .strictObject({
    rate: positiveInt(),
    period: wholeSeconds.prefault('1s'),
    /** Absent: the same as rate (no reserve). */
    burst: positiveInt().optional(),
    by: z.enum(['key', 'address']).default('key'),
    redis_url: redisUrl(),
    redis_timeout: duration({ allowZero: false }).prefault('200ms'),
  })
  .refine((r) => r.burst === undefined || r.burst >= r.rate, { path: ['burst'], error: 'must be at least rate' })
  .transform((r) => ({ ...r, burst: r.burst ?? r.rate }));

export type AdminConfig = z.output<typeof adminSchema>;
export type AuthConfig = z.output<typeof authSchema>;
export type RateLimitsConfig = z.output<typeof rateLimitsSchema>;

/** Secrets are read when Sluice starts or reloads: a missing variable, or an unreadable or empty file, fails early. */
export function missingAccessSecrets(config: { admin: AdminConfig; auth: AuthConfig }, env: NodeJS.ProcessEnv): string[] {
  const issues: string[] = [];
  const unset = (name: string) => (env[name] ?? '').trim() === '';
  if (config.admin.bearer_token_env !== null && unset(config.admin.bearer_token_env)) {
    issues.push(`admin.bearer_token_env: environment variable ${config.admin.bearer_token_env} is not set`);
  }
  config.auth.api_keys.forEach((k, index) => {
    if (k.key_env !== null && unset(k.key_env)) issues.push(`auth.api_keys[${index}].key_env: environment variable ${k.key_env} is not set`);
    if (k.key_file !== null) {
      try {
        if (readFileSync(k.key_file, 'utf8').trim() === '') issues.push(`auth.api_keys[${index}].key_file: ${k.key_file} is empty`);
      } catch {
        issues.push(`auth.api_keys[${index}].key_file: cannot read ${k.key_file}`);
      }
    }
  });
  return issues;
}
