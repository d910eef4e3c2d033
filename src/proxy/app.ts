import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { ModelCatalog } from '../discovery/index.js';
import type { Logger } from '../telemetry/index.js';
import { sendError, SluiceError } from './errors.js';
import type { Forwarder } from './forwarder.js';
import { requestIdFor } from './headers.js';
import { modelOf, readBody } from './request-body.js';

/** What a request is served with; replaced as a whole when the configuration is reloaded. */
export interface ProxyRuntime {
  readonly forwarder: Forwarder;
  readonly catalog: ModelCatalog;
  readonly maxBodyBytes: number;
}

export interface ProxyAppOptions {
  readonly current: () => ProxyRuntime;
  readonly logger: Logger;
  /** Sluice's own routes (/metrics, /internal/*) when they share the proxy's port. */
  readonly adminRouter?: express.Router;
}

/**
 * The client-facing Express app: Sluice's own routes first, the unified model lists, then
 * everything else goes through the forwarder.
 */
export function createProxyApp(opts: ProxyAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (opts.adminRouter) app.use(opts.adminRouter);

  app.get('/v1/models', (_req, res) => {
    const data = opts.current().catalog.routableModels().map((e) => ({ id: e.model, object: 'model', created: 0, owned_by: 'sluice', endpoints: e.endpoints.filter((ep) => ep.routable).map((ep) => ep.name) }));
    res.json({ object: 'list', data });
  });
  app.get('/api/tags', (_req, res) => {
    const models = opts.current().catalog.routableModels().map((e) => ({ name: e.model, model: e.model, modified_at: new Date(0).toISOString(), size: 0, digest: '', details: {} }));
    res.json({ models });
  });

  app.use((req: Request, res: Response, next: NextFunction) => {
    const startedAt = performance.now();
    const id = requestIdFor(req);
    const { forwarder, maxBodyBytes } = opts.current();
    readBody(req, maxBodyBytes)
      .then((body) => forwarder.handle(req, res, { id, startedAt, body, model: modelOf(req, body) }))
      .catch((err: unknown) => {
        if (!(err instanceof SluiceError)) return next(err);
        // Stop reading an oversized upload: answer and close rather than drain it.
        if (err.code === 'body_too_large') res.setHeader('connection', 'close');
        forwarder.reject(req, res, { id, startedAt, body: Buffer.alloc(0), model: undefined }, err);
      });
  });

  // Every error Sluice itself answers is JSON in the client's API shape, never an HTML page.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const sluiceErr = err instanceof SluiceError ? err : new SluiceError('internal_error', 'internal error', { cause: err });
    if (sluiceErr.code === 'internal_error') opts.logger.error('unhandled error', { path: req.path, error: err instanceof Error ? err.stack : String(err) });
    res.setHeader('x-sluice-request-id', requestIdFor(req));
    sendError(req, res, sluiceErr);
  });
  return app;
}
