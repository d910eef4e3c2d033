import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlockList } from 'node:net';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { ANONYMOUS_CLIENT, type SluiceConfig } from '../config/index.js';
import { clientBehindTrustedProxies, sendError, SluiceError, trustedList, type RequestGate } from '../proxy/index.js';
import type { Logger, SluiceMetrics } from '../telemetry/index.js';
import { ApiKeyRing, bearerToken, digestKeys, presentedKeys, type KeyDigest } from './api-keys.js';
import { openBucketStore } from './bucket-stores.js';
import { InvalidKeyLimit } from './invalid-keys.js';
import { AccessMetrics, type AdminDenialReason } from './metrics.js';
import { limitedAddress, networkMatcher } from './networks.js';
import { RateLimiters } from './rate-limiters.js';
import { readAdminToken, readApiKeys } from './secrets.js';

/** Readiness and liveness probes: reachable from the allowed networks without the admin token. */
export function isProbePath(path: string): boolean {
  return path === '/internal/live' || path === '/internal/health' || path.startsWith('/internal/health/');
}

/** Everything one configuration decides; swapped whole on reload. */
interface Policy {
  readonly adminAllowed: (address: string | undefined) => boolean;
  readonly adminToken: ApiKeyRing | undefined;
  readonly keys: ApiKeyRing;
  readonly limitBy: 'key' | 'address';
  /** Wrong keys per client address (`auth.invalid_keys_per_minute`); undefined when off. */
  readonly invalidKeys: InvalidKeyLimit | undefined;
  /** `server.trusted_proxies`, when set: the client address of a request they pass on is in X-Forwarded-For. */
  readonly trustedProxies: BlockList | undefined;
}

const STORE_WARNING_INTERVAL_MS = 30_000;

/**
 * Access control for both surfaces: the admin routes (allowed networks, optional bearer token)
 * and the proxy surface (inbound API keys, with a limit on wrong ones per client address, then
 * rate limits). Built once; `update` applies a reloaded configuration, keeping the rate-limit
 * store (see RateLimiters) and the wrong-key counts when their settings did not change.
 */
export class Access {
  readonly gate: RequestGate;
  readonly #metrics: AccessMetrics;
  readonly #logger: Logger;
  readonly #env: NodeJS.ProcessEnv;
  /** The inbound keys someone else read for a configuration (a cluster worker's primary); undefined: read them here. */
  readonly #keysFor: (config: SluiceConfig) => readonly KeyDigest[] | undefined;
  readonly #limiters: RateLimiters;
  #policy: Policy;
  #storeErrorsSinceWarning = 0;
  #lastStoreWarning = -Infinity;

  constructor(config: SluiceConfig, deps: { metrics: SluiceMetrics; logger: Logger; env?: NodeJS.ProcessEnv; keysFor?: (config: SluiceConfig) => readonly KeyDigest[] | undefined }) {
    this.#metrics = new AccessMetrics(deps.metrics);
    this.#logger = deps.logger;
    this.#env = deps.env ?? process.env;
    this.#keysFor = deps.keysFor ?? (() => undefined);
    this.#limiters = new RateLimiters((limits) => openBucketStore(limits, (err) => this.#logger.debug('rate-limit store connection error', { error: err.message })));
    this.#policy = this.#build(config, undefined);
    this.#limiters.apply(config.rate_limits);
    this.gate = { admit: (req, res) => this.#admit(req, res) };
    this.#warnIfAdminExposed(config);
  }

  /**
   * Behind a proxy (`server.trusted_proxies` set), every client reaches the proxy port from the
   * proxy's address, most often in the private ranges `admin.allow` opens by default: without a
   * port of its own or a token, the admin surface would answer anyone the proxy lets through.
   */
  #warnIfAdminExposed(config: SluiceConfig): void {
    if (config.server.trusted_proxies.length === 0 || config.server.admin_port !== null || config.admin.bearer_token_env !== null) return;
    this.#logger.warn('the admin surface (/metrics, /internal/*) answers on the proxy port to every address in admin.allow, and clients arrive from server.trusted_proxies: set server.admin_port or admin.bearer_token_env', { admin_allow: config.admin.allow, trusted_proxies: config.server.trusted_proxies });
  }

  update(config: SluiceConfig): void {
    this.#policy = this.#build(config, this.#policy.invalidKeys);
    this.#limiters.apply(config.rate_limits);
    this.#warnIfAdminExposed(config);
  }

  close(): void {
    this.#limiters.close();
  }

  /** The status router behind the admin guard (mounted on the proxy port or on `server.admin_port`). */
  guardAdmin(router: Router): Router {
    const guarded = Router();
    guarded.use(['/metrics', '/internal'], (req: Request, res: Response, next: NextFunction) => {
      const denial = this.#adminDenial(req);
      if (denial === undefined) return next();
      this.#metrics.adminDenied(denial);
      const path = req.originalUrl.split('?')[0];
      this.#logger.info('admin request refused', { method: req.method, path, remote_address: req.socket.remoteAddress, reason: denial });
      if (denial === 'network') sendError(req, res, new SluiceError('forbidden', 'the admin surface is not open to this network'));
      else sendError(req, res, new SluiceError('unauthorized', 'the admin surface needs a bearer token'), { 'www-authenticate': 'Bearer realm="sluice-admin"' });
    });
    guarded.use(router);
    return guarded;
  }

  #build(config: SluiceConfig, invalidKeys: InvalidKeyLimit | undefined): Policy {
    const keys = new ApiKeyRing(this.#keysFor(config) ?? digestKeys(readApiKeys(config, this.#env)));
    const token = readAdminToken(config, this.#env);
    const limits = config.rate_limits;
    const perMinute = config.auth.invalid_keys_per_minute;
    const proxies = config.server.trusted_proxies;
    this.#metrics.initClients([...keys.names, ANONYMOUS_CLIENT]);
    return {
      adminAllowed: networkMatcher(config.admin.allow),
      adminToken: token === undefined ? undefined : new ApiKeyRing(digestKeys([{ name: 'admin', key: token }])),
      keys,
      limitBy: limits?.by ?? 'key',
      // A reload that keeps the setting keeps the count: it would otherwise start every address afresh.
      invalidKeys: perMinute === 0 ? undefined : invalidKeys?.perMinute === perMinute ? invalidKeys : new InvalidKeyLimit(perMinute),
      trustedProxies: proxies.length === 0 ? undefined : trustedList(proxies),
    };
  }

  #adminDenial(req: IncomingMessage & { originalUrl?: string }): AdminDenialReason | undefined {
    const policy = this.#policy;
    if (!policy.adminAllowed(req.socket.remoteAddress)) return 'network';
    if (policy.adminToken === undefined) return undefined;
    const path = (req.originalUrl ?? req.url ?? '/').split('?')[0]!;
    if (isProbePath(path)) return undefined;
    const presented = bearerToken(req.headers.authorization);
    return presented !== undefined && policy.adminToken.nameOf(presented) !== undefined ? undefined : 'token';
  }

  #admit(req: IncomingMessage, res: ServerResponse): SluiceError | undefined | Promise<SluiceError | undefined> {
    const policy = this.#policy;
    const limiter = this.#limiters.current;
    let client = ANONYMOUS_CLIENT;
    if (policy.keys.size > 0) {
      const presented = presentedKeys(req.headers);
      // An address past its wrong keys gets no answer about the key it sends now, right or wrong.
      const guard = presented.length === 0 ? undefined : policy.invalidKeys;
      const address = guard ? this.#clientAddress(req, policy) : '';
      const waitSeconds = guard?.retryAfterSeconds(address);
      if (waitSeconds !== undefined) {
        this.#metrics.rateLimited(ANONYMOUS_CLIENT);
        return new SluiceError('rate_limit_exceeded', `Too many requests with an incorrect API key from this address: retry after ${waitSeconds}s`, { retryAfterSeconds: waitSeconds });
      }
      const name = policy.keys.nameOfAny(presented);
      if (name === undefined) {
        // Each wrong key counts: two headers are not two guesses for the price of one.
        for (let i = 0; i < presented.length; i++) guard?.failed(address);
        this.#metrics.authFailure(presented.length === 0 ? 'missing_key' : 'invalid_key');
        res.setHeader('www-authenticate', 'Bearer realm="sluice"');
        return presented.length === 0
          ? new SluiceError('invalid_api_key', 'You did not provide an API key: send it as "Authorization: Bearer <key>" or "x-api-key: <key>"')
          : new SluiceError('invalid_api_key', 'Incorrect API key provided');
      }
      client = name;
      // The client's key is for Sluice: backends get their own configured token, if any.
      delete req.headers.authorization;
      delete req.headers['x-api-key'];
    }
    if (!limiter) return undefined;
    const subject = policy.limitBy === 'key' && client !== ANONYMOUS_CLIENT ? `key:${client}` : `addr:${this.#clientAddress(req, policy)}`;
    return limiter.consume(subject).then((verdict) => {
      if (verdict.kind === 'store_error') {
        this.#storeFailed(verdict.error);
        return undefined;
      }
      res.setHeader('x-ratelimit-limit', String(verdict.limit));
      res.setHeader('x-ratelimit-remaining', String(verdict.remaining));
      res.setHeader('x-ratelimit-reset', String(verdict.resetSeconds));
      if (verdict.kind === 'allowed') return undefined;
      this.#metrics.rateLimited(client);
      return new SluiceError('rate_limit_exceeded', `Rate limit reached for ${client === ANONYMOUS_CLIENT ? 'this client' : `client "${client}"`}: retry after ${verdict.resetSeconds}s`, { retryAfterSeconds: verdict.resetSeconds });
    });
  }

  /** The address wrong keys and rate limits count against: the peer's, or behind trusted proxies the client's they name (IPv6 by its /64). */
  #clientAddress(req: IncomingMessage, policy: Policy): string {
    return limitedAddress(policy.trustedProxies ? clientBehindTrustedProxies(req, policy.trustedProxies) : req.socket.remoteAddress);
  }

  /** Fail open: a request is not refused because the shared store is down; counted, and warned about every 30 s at most. */
  #storeFailed(error: Error): void {
    this.#metrics.storeError();
    this.#storeErrorsSinceWarning++;
    const now = Date.now();
    if (now - this.#lastStoreWarning < STORE_WARNING_INTERVAL_MS) return;
    this.#logger.warn('rate-limit store unavailable; requests pass unlimited', { error: error.message, requests_since_last_warning: this.#storeErrorsSinceWarning });
    this.#lastStoreWarning = now;
    this.#storeErrorsSinceWarning = 0;
  }
}
