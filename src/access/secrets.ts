import { readFileSync } from 'node:fs';
import type { SluiceConfig } from '../config/index.js';
import type { NamedKey } from './api-keys.js';

/** The value of a secret variable; empty counts as unset (as in the config loader). */
function fromEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/** The inbound API keys, read from their variables or files (a file holds the key alone, as Docker and Kubernetes secrets do). */
export function readApiKeys(config: SluiceConfig, env: NodeJS.ProcessEnv): NamedKey[] {
  return config.auth.api_keys.map((k) => {
    const key = k.key_env !== null ? fromEnv(env, k.key_env) : readFileSync(k.key_file!, 'utf8').trim();
    // The loader has checked that every variable is set and every file readable.
    if (!key) throw new Error(`auth.api_keys: key "${k.name}" is empty`);
    return { name: k.name, key };
  });
}

export function readAdminToken(config: SluiceConfig, env: NodeJS.ProcessEnv): string | undefined {
  const name = config.admin.bearer_token_env;
  return name === null ? undefined : fromEnv(env, name);
}
