import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequestListener } from './dispatcher.js';
import { realClock, SimulatedFleet } from './engine/index.js';
import { DEFAULT_FAULT, FaultController } from './fault.js';
import { ModelLoader } from './model-loader.js';
import { ollamaRoutes } from './ollama-routes.js';
import { openAiRoutes } from './openai-routes.js';
import { ResponseStore, responsesRoutes } from './responses-api.js';
import { MODEL_SERVER_DEFAULTS, type ModelServerOptions } from './options.js';
import { coreRoutes } from './routes-core.js';
import type { AppState } from './routes.js';
import { pacedTokenSource } from './token-source.js';

export interface RunningModelServer {
  /** The bound port (useful when started on port 0). */
  readonly port: number;
  /** Stops listening, drops open connections (including streams and hung requests) and timers. */
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Starts a sample model server; it answers 503 until `loadTimeMs` has passed. */
export async function startModelServer(options: ModelServerOptions = {}): Promise<RunningModelServer> {
  const now = options.now ?? Date.now;
  const loadTimeMs = options.loadTimeMs ?? MODEL_SERVER_DEFAULTS.loadTimeMs;
  const loader = new ModelLoader(loadTimeMs);
  const models = [...(options.models ?? MODEL_SERVER_DEFAULTS.models)];
  // The startup load brings the first models in; a later switch to a cold one takes LOAD_TIME again.
  const fleet = options.engine
    ? new SimulatedFleet({ models, config: options.engine.config, maxLoadedModels: options.engine.maxLoadedModels ?? models.length, loadMs: loadTimeMs, clock: realClock })
    : undefined;
  const startedAt = now();
  const app: AppState = {
    serverId: options.serverId ?? MODEL_SERVER_DEFAULTS.serverId,
    models,
    tokens: fleet ?? pacedTokenSource(options.tokenDelayMs ?? MODEL_SERVER_DEFAULTS.tokenDelayMs),
    modelListDelayMs: options.modelListDelayMs ?? MODEL_SERVER_DEFAULTS.modelListDelayMs,
    modelListFailUntil: startedAt + (options.modelListFailForMs ?? MODEL_SERVER_DEFAULTS.modelListFailForMs),
    fleet,
    startedAt,
    faults: new FaultController({ ...DEFAULT_FAULT, ...options.fault }, now),
    loader,
    responses: new ResponseStore(),
    now,
    log: options.log ?? (() => undefined),
    onCrash: options.onCrash ?? (() => process.exit(1)),
  };
  // noDelay: each streamed token goes out in its own packet instead of waiting for the next.
  // Idle keep-alive sockets stay open as long as Sluice keeps its own: a server that closes one at the
  // moment a client (a proxy's pool) reuses it fails that request.
  const server = createServer({ noDelay: true, keepAliveTimeout: 65_000 }, createRequestListener(app, [...coreRoutes, ...openAiRoutes, ...responsesRoutes, ...ollamaRoutes]));
  const port = await listen(server, options.port ?? MODEL_SERVER_DEFAULTS.port, options.host ?? MODEL_SERVER_DEFAULTS.host);
  loader.start();

  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        loader.stop();
        fleet?.stop();
        server.close(() => resolve());
        // Streams and hung requests would otherwise keep close() waiting indefinitely.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
