import { sendError } from './api-errors.js';
import { parseFaultRequest } from './fault.js';
import { sendJson, sendText } from './http-io.js';
import type { Route } from './routes.js';
import { processMetrics } from './process-metrics.js';

/** /health classifies this sentence with the real model, so "ok" means inference works. */
const HEALTH_PROBE_TEXT = 'The service is running well and the results look great.';

/** Liveness, readiness, the sentiment API and fault control. */
export const coreRoutes: readonly Route[] = [
  {
    method: 'GET',
    path: '/',
    family: 'ollama',
    kind: 'service',
    // Ollama answers its root with this text; clients and balancers use it as a liveness probe.
    handle: ({ res }) => sendText(res, 200, 'Ollama is running'),
  },
  {
    method: 'GET',
    path: '/health',
    family: 'plain',
    kind: 'service',
    handle: ({ res, app }) => {
      const models = app.loader.models;
      if (!models) return sendJson(res, 503, { status: 'loading', server_id: app.serverId });
      const probe = models.sentiment(HEALTH_PROBE_TEXT);
      if (probe.label !== 'positive') return sendJson(res, 500, { status: 'error', server_id: app.serverId, error: 'health probe inference gave an unexpected result' });
      sendJson(res, 200, { status: 'ok', server_id: app.serverId });
    },
  },
  {
    method: 'POST',
    path: '/predict',
    family: 'plain',
    kind: 'api',
    handle: ({ res, body, app }, models) => {
      const text = body?.text;
      if (typeof text !== 'string' || text.trim() === '') {
        return sendError(res, 'plain', { status: 400, message: 'text must be a non-empty string' }, app.serverId);
      }
      const { label, score } = models.sentiment(text);
      sendJson(res, 200, { server_id: app.serverId, label, score });
    },
  },
  {
    method: 'GET',
    path: '/metrics',
    family: 'plain',
    // Scraped by Prometheus whatever the fault: it shows the process (and the simulated engines' load).
    kind: 'admin',
    handle: async ({ res, app }) => {
      const own = await processMetrics();
      const contentType = own.contentType;
      const body = app.fleet ? `${own.body}\n${await app.fleet.metrics.text()}` : own.body;
      res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) }).end(body);
    },
  },
  {
    method: 'GET',
    path: '/admin/fault',
    family: 'plain',
    kind: 'admin',
    handle: ({ res, app }) => sendJson(res, 200, { ...app.faults.describe(), server_id: app.serverId }),
  },
  {
    method: 'POST',
    path: '/admin/fault',
    family: 'plain',
    kind: 'admin',
    handle: ({ res, body, app }) => {
      const parsed = parseFaultRequest(body);
      if (!parsed.ok) return sendError(res, 'plain', { status: 400, message: parsed.error }, app.serverId);
      app.faults.set(parsed.spec);
      app.log({ level: 'info', msg: 'fault mode changed', server_id: app.serverId, ...app.faults.describe() });
      // `crash` set here confirms first and then crashes, so the caller knows it was accepted.
      if (parsed.spec.mode === 'crash') res.once('finish', () => app.onCrash());
      sendJson(res, 200, { ...app.faults.describe(), server_id: app.serverId });
    },
  },
];
