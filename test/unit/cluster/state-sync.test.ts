import { describe, expect, it } from 'vitest';
import { validateConfig, type SluiceConfig } from '../../../src/config/index.js';
import { ModelCatalog } from '../../../src/discovery/index.js';
import { Endpoint } from '../../../src/endpoints/index.js';
import { LoadBoard } from '../../../src/load/index.js';
import { StoredResponses } from '../../../src/affinity/index.js';
import type { Answers } from '../../../src/fleet/index.js';
import { isToPrimary, isToWorker, type StateMessage, type ToPrimary } from '../../../src/cluster/messages.js';
import { applyPassive, PassiveRelay } from '../../../src/cluster/passive-relay.js';
import { fullState, healthMessage, loadMessages, modelsMessage } from '../../../src/cluster/primary-state.js';
import { Replica } from '../../../src/cluster/replica.js';
import type { ControlView } from '../../../src/cluster/side.js';

const config = validateConfig({
  health: { fall: 2, rise: 2, slow_start: '10s' },
  endpoints: [
    { name: 'a', url: 'http://127.0.0.1:9001', type: 'vllm' },
    { name: 'b', url: 'http://127.0.0.1:9002', type: 'vllm' },
  ],
});

/** What crosses the IPC channel: a structured clone, as with `serialization: 'advanced'`. */
const overIpc = <T>(message: T): T => structuredClone(message);

/**
 * A primary and two workers in one process: the primary's state machines are fed by checks and
 * by what the workers report; every change goes through the message types to the workers.
 */
function cluster() {
  const clock = { ms: 1_000_000 };
  const now = () => clock.ms;
  const board = new LoadBoard({ now, staleAfterMs: 2000 });
  board.track(config.endpoints.map((c) => ({ name: c.name, source: c.load_source })));
  const primaryEndpoints: Endpoint[] = [];
  const toWorkers: StateMessage[] = [];
  /** Whether the primary's catalog is primed (its discovery is not run here). */
  const catalogState = { primed: false };
  const owners = new StoredResponses({ maxIds: 10, ttlMs: 60_000, now });
  const view: ControlView = {
    config,
    answers: new Map(),
    endpoints: primaryEndpoints,
    get primed() {
      return catalogState.primed;
    },
    board,
    nextCheckInMs: () => 500,
    metricsJson: () => Promise.resolve([]),
    responseOwner: (id, owner) => (owner ? owners.remember(id, owner) : owners.forget(id)),
    responseOwners: () => owners.entries(),
  };
  for (const c of config.endpoints) {
    primaryEndpoints.push(new Endpoint(c, config, now, { stateChanged: (ep) => broadcast(healthMessage(ep, 500, clock.ms)) }));
  }
  const workers: Array<ReturnType<typeof worker>> = [];
  function broadcast(message: StateMessage): void {
    toWorkers.push(message);
    for (const w of workers) w.replica.apply(overIpc(message));
  }
  const fromWorkers: ToPrimary[] = [];
  function toPrimary(message: ToPrimary): void {
    fromWorkers.push(message);
    const m = overIpc(message);
    if (m.type === 'sluice:connection-failed' || m.type === 'sluice:latency-failed' || m.type === 'sluice:outcomes') applyPassive((name) => primaryEndpoints.find((ep) => ep.name === name), m);
  }
  function worker() {
    const relay = new PassiveRelay(toPrimary, 60_000);
    const transitions: string[] = [];
    const endpoints = config.endpoints.map((c) => new Endpoint(c, config, now, { passive: relay, stateChanged: (ep, from, to, reason) => transitions.push(`${ep.name} ${from}->${to}: ${reason}`) }));
    const catalog = new ModelCatalog(endpoints);
    const workerBoard = new LoadBoard({ now, staleAfterMs: 2000 });
    workerBoard.track(config.endpoints.map((c) => ({ name: c.name, source: c.load_source })));
    const reloads: Array<{ config: SluiceConfig; answers: Answers }> = [];
    const members: Answers[] = [];
    const replica = new Replica(now);
    const stored = new StoredResponses({ maxIds: 10, ttlMs: 60_000, now });
    return {
      stored,
      relay,
      transitions,
      endpoints,
      catalog,
      board: workerBoard,
      replica,
      reloads,
      members,
      ep: (name: string) => endpoints.find((ep) => ep.name === name)!,
      attach() {
        replica.attach({
          endpoint: (name) => endpoints.find((ep) => ep.name === name),
          board: workerBoard,
          modelsChanged: (primed) => catalog.follow(primed),
          reload: (c, answers) => reloads.push({ config: c, answers }),
          membersChanged: (answers) => members.push(answers),
          metricsJson: () => Promise.resolve([]),
          responseOwner: (id, owner) => (owner ? stored.remember(id, owner) : stored.forget(id)),
        });
      },
    };
  }
  const addWorker = () => {
    const w = worker();
    w.attach();
    workers.push(w);
    return w;
  };
  /** A check of the primary's endpoint; the checker reports after every check. */
  const check = (name: string, ok: boolean, latencyMs = 5) => {
    const ep = primaryEndpoints.find((e) => e.name === name)!;
    ep.health.recordCheck({ ok, latencyMs, ...(ok ? {} : { error: 'connect ECONNREFUSED' }) });
    broadcast(healthMessage(ep, 500, clock.ms));
  };
  const primary = (name: string) => primaryEndpoints.find((e) => e.name === name)!;
  return { clock, view, catalogState, board, primary, check, broadcast, addWorker, worker, toWorkers, fromWorkers };
}

describe('cluster state sync', () => {
  it('every worker takes the state, reason, counters and slow start the primary decides', () => {
    const c = cluster();
    const w1 = c.addWorker();
    const w2 = c.addWorker();
    c.check('a', true);
    c.check('b', false);
    for (const w of [w1, w2]) {
      expect(w.ep('a').state).toBe('healthy');
      expect(w.ep('b').state).toBe('unhealthy');
      expect(w.ep('b').routable).toBe(false);
      expect(w.ep('b').health.lastError).toBe('connect ECONNREFUSED');
      expect(w.ep('b').health.snapshot()).toEqual(c.primary('b').health.snapshot());
      expect(w.transitions).toEqual(['a unknown->healthy: check passed', 'b unknown->unhealthy: check failed: connect ECONNREFUSED']);
      expect(w.replica.nextCheckInMs(w.ep('b'))).toBe(500);
    }
    // Recovery: recovering after one pass, healthy after rise, with the primary's slow start.
    c.clock.ms += 1000;
    c.check('b', true);
    expect(w1.ep('b').state).toBe('recovering');
    c.check('b', true);
    c.clock.ms += 5000;
    expect(w1.ep('b').state).toBe('healthy');
    expect(w1.ep('b').effectiveWeight).toBeCloseTo(c.primary('b').effectiveWeight);
    expect(w1.ep('b').effectiveWeight).toBeLessThan(1);
    expect(w2.ep('b').health.snapshot()).toEqual(c.primary('b').health.snapshot());
  });

  it('a connection failure one worker sees stops it at once, and the primary makes every worker follow', () => {
    const c = cluster();
    const w1 = c.addWorker();
    const w2 = c.addWorker();
    c.check('a', true);
    w1.ep('a').connectionFailed('connect ECONNREFUSED 127.0.0.1:9001');
    expect(c.fromWorkers).toEqual([{ type: 'sluice:connection-failed', endpoint: 'a', url: 'http://127.0.0.1:9001/', error: 'connect ECONNREFUSED 127.0.0.1:9001' }]);
    expect(c.primary('a').state).toBe('unhealthy');
    for (const w of [w1, w2]) {
      expect(w.ep('a').state).toBe('unhealthy');
      expect(w.ep('a').routable).toBe(false);
    }
    expect(w2.transitions.at(-1)).toBe('a healthy->unhealthy: connection failed: connect ECONNREFUSED 127.0.0.1:9001');
  });

  it('a missed first token one worker sees degrades the endpoint in the primary and every worker', () => {
    const c = cluster();
    const w1 = c.addWorker();
    const w2 = c.addWorker();
    c.check('a', true);
    w1.ep('a').latencyFailed('slow request: no first token within 500ms');
    expect(c.fromWorkers).toEqual([{ type: 'sluice:latency-failed', endpoint: 'a', url: 'http://127.0.0.1:9001/', error: 'slow request: no first token within 500ms' }]);
    expect(c.primary('a').state).toBe('degraded');
    for (const w of [w1, w2]) {
      expect(w.ep('a').state).toBe('degraded');
      expect(w.ep('a').routable).toBe(true);
    }
    // A passing check does not clear it at once: the primary keeps it degraded, and so do the workers.
    c.check('a', true);
    expect(w2.ep('a').state).toBe('degraded');
  });

  it('request outcomes are counted per worker, sent in one message, and feed the primary\'s error ratio', () => {
    const c = cluster();
    const w1 = c.addWorker();
    const w2 = c.addWorker();
    c.check('a', true);
    for (let i = 0; i < 6; i++) w1.ep('a').requestFinished('failure');
    for (let i = 0; i < 6; i++) w2.ep('a').requestFinished('failure');
    // Nothing is sent per request, and a worker's own state machine is not the judge.
    expect(c.fromWorkers).toEqual([]);
    expect(w1.ep('a').state).toBe('healthy');
    w1.relay.flush();
    expect(c.fromWorkers).toHaveLength(1);
    expect(c.primary('a').state).toBe('healthy'); // 6 requests: too few to judge
    w2.relay.flush();
    expect(c.primary('a').health.errorRatio()).toBe(1);
    expect(c.primary('a').state).toBe('degraded');
    expect(w1.ep('a').state).toBe('degraded');
    expect(w2.ep('a').state).toBe('degraded');
    w2.relay.flush(); // nothing new: nothing sent
    expect(c.fromWorkers).toHaveLength(2);
  });

  // A reload that points a name at another backend retires the worker's old endpoint, which drains
  // its streams. What those streams then see is about the old backend: it used to be applied to
  // the primary's endpoint of the same name, the new backend, and took it out of every worker.
  it('reports from an endpoint a reload pointed elsewhere do not count against the new backend', () => {
    const c = cluster();
    const w = c.addWorker();
    c.check('a', true);
    const old = w.ep('a');
    // The reload: the primary's `a` is now another backend; the worker's old `a` drains, a new one serves.
    const moved = { ...config.endpoints[0]!, url: 'http://127.0.0.1:9003' };
    const index = c.view.endpoints.indexOf(c.primary('a'));
    (c.view.endpoints as Endpoint[])[index] = new Endpoint(moved, config, () => c.clock.ms, { stateChanged: (ep) => c.broadcast(healthMessage(ep, 500, c.clock.ms)) });
    c.check('a', true);
    old.retire();
    const current = new Endpoint(moved, config, () => c.clock.ms, { passive: w.relay });

    // The old backend dies under the draining streams.
    old.connectionFailed('read ECONNRESET');
    old.latencyFailed('slow request: no first token within 500ms');
    for (let i = 0; i < 20; i++) old.requestFinished('failure');
    w.relay.flush();
    expect(c.fromWorkers.map((m) => m.type)).toEqual(['sluice:connection-failed', 'sluice:latency-failed', 'sluice:outcomes']);
    expect(c.primary('a').state).toBe('healthy');
    expect(c.primary('a').health.errorRatio()).toBeUndefined();

    // What the new endpoint sees still counts, also in the same message as the old one's outcomes.
    for (let i = 0; i < 20; i++) old.requestFinished('failure');
    for (let i = 0; i < 20; i++) current.requestFinished('failure');
    w.relay.flush();
    expect(c.fromWorkers.at(-1)).toEqual({
      type: 'sluice:outcomes',
      outcomes: [
        { endpoint: 'a', url: 'http://127.0.0.1:9001/', successes: 0, failures: 20 },
        { endpoint: 'a', url: 'http://127.0.0.1:9003/', successes: 0, failures: 20 },
      ],
    });
    expect(c.primary('a').health.errorRatio()).toBe(1);
    expect(c.primary('a').state).toBe('degraded');
    current.connectionFailed('connect ECONNREFUSED 127.0.0.1:9003');
    expect(c.primary('a').state).toBe('unhealthy');
  });

  it('models and load reports reach the workers\' catalog and load board', () => {
    const c = cluster();
    const w = c.addWorker();
    c.check('a', true);
    c.primary('a').setModels(['llama3:8b']);
    c.broadcast(modelsMessage(c.view.endpoints, false));
    expect(w.catalog.resolve('llama3:8b')).toBe('llama3:8b');
    expect(w.catalog.endpointsFor('llama3:8b').map((ep) => ep.name)).toEqual(['a']);
    c.board.record('a', { running: 3, waiting: 4, kvUsage: 0.5, residentModels: new Set(['llama3:8b']) });
    for (const m of loadMessages(c.view, 'a')) c.broadcast(m);
    expect(w.board.facts('a', 'llama3:8b')).toMatchObject({ requests: 7, kvUsage: 0.5, resident: true, stale: false });
    c.broadcast({ type: 'sluice:load', endpoint: 'a', error: 'timeout' });
    expect(w.board.facts('a', 'llama3:8b').stale).toBe(true);
  });

  it('an endpoint that has never listed stays unknown in the workers, also when another endpoint\'s list arrives', () => {
    const c = cluster();
    const w = c.addWorker();
    const primaryCatalog = new ModelCatalog(c.view.endpoints);
    const unknown = (catalog: ModelCatalog) => catalog.notYetListed().map((ep) => ep.name);
    expect(unknown(w.catalog)).toEqual(['a', 'b']);
    c.primary('a').setModels(['m']);
    const message = modelsMessage(c.view.endpoints, true);
    // b has no list to send: an empty one would say it serves nothing.
    expect([...message.models.keys()]).toEqual(['a']);
    c.broadcast(message);
    expect(unknown(primaryCatalog)).toEqual(['b']);
    expect(unknown(w.catalog)).toEqual(['b']);
    // b answers with no models: known now, everywhere.
    c.primary('b').setModels([]);
    c.broadcast(modelsMessage(c.view.endpoints, true));
    expect(unknown(primaryCatalog)).toEqual([]);
    expect(unknown(w.catalog)).toEqual([]);
    // A worker started later gets the same from the whole state.
    const late = c.worker();
    for (const m of fullState(c.view, c.clock.ms)) late.replica.apply(overIpc(m));
    late.attach();
    expect(unknown(late.catalog)).toEqual([]);
  });

  it('a worker\'s catalog is primed when the primary says its own is, and stays so', async () => {
    const c = cluster();
    const w = c.addWorker();
    c.primary('a').setModels(['m']);
    // Models known, but the primary's first discovery round has not settled (b has not answered).
    c.broadcast(modelsMessage(c.view.endpoints, false));
    expect(w.catalog.resolve('m')).toBe('m');
    expect(w.catalog.primed).toBe(false);
    let resumed = false;
    void w.catalog.whenPrimed().then(() => (resumed = true));
    c.broadcast(modelsMessage(c.view.endpoints, true));
    expect(w.catalog.primed).toBe(true);
    await Promise.resolve();
    expect(resumed).toBe(true);
    // A later message never takes it back.
    c.broadcast(modelsMessage(c.view.endpoints, false));
    expect(w.catalog.primed).toBe(true);
  });

  it('a worker that starts late gets the whole state, applied once its runtime exists', () => {
    const c = cluster();
    c.catalogState.primed = true;
    c.check('a', true);
    c.check('b', false);
    c.primary('a').setModels(['m']);
    c.board.record('a', { running: 1 });
    // What the workers told the primary of stored responses, kept for a worker that starts later.
    const owner = { endpoint: 'b', backend: 'http://127.0.0.1:9002/' };
    for (const id of ['resp_1', 'resp_2', 'resp_3']) c.view.responseOwner(id, owner);
    c.view.responseOwner('resp_2', undefined);
    const late = c.worker();
    const messages = fullState(c.view, c.clock.ms);
    expect(messages[0]).toMatchObject({ type: 'sluice:config', reload: false });
    for (const m of messages) late.replica.apply(overIpc(m));
    // Nothing applied before the runtime is attached; the first configuration is not a reload.
    expect(late.ep('a').state).toBe('unknown');
    late.attach();
    expect(late.reloads).toEqual([]);
    expect(late.ep('a').state).toBe('healthy');
    expect(late.ep('b').state).toBe('unhealthy');
    expect(late.catalog.resolve('m')).toBe('m');
    expect(late.catalog.primed).toBe(true);
    expect(late.board.facts('a', undefined).requests).toBe(1);
    expect([late.stored.owner('resp_1'), late.stored.owner('resp_2'), late.stored.owner('resp_3')]).toEqual([owner, undefined, owner]);
  });

  // A SIGHUP handled just after a worker's hello: its reload can arrive in the same read as the
  // first configuration, before the worker's runtime exists. It used to be dropped, leaving that
  // worker on the old configuration until the next reload.
  it('a reload that arrives before the runtime exists is applied once it does', () => {
    const c = cluster();
    const late = c.worker();
    const next = validateConfig({ endpoints: [{ name: 'a', url: 'http://127.0.0.1:9001', weight: 3 }] });
    const answers: Answers = new Map();
    for (const m of fullState(c.view, c.clock.ms)) late.replica.apply(overIpc(m));
    late.replica.apply(overIpc({ type: 'sluice:config', config: next, answers, reload: true }));
    expect(late.reloads).toEqual([]);
    late.attach();
    expect(late.reloads).toEqual([{ config: next, answers }]);
  });

  it('reloads and DNS member changes are passed on as such', () => {
    const c = cluster();
    const w = c.addWorker();
    const next = validateConfig({ endpoints: [{ name: 'a', url: 'http://127.0.0.1:9001', weight: 3 }] });
    const answers: Answers = new Map([['pool', ['10.0.0.1']]]);
    c.broadcast({ type: 'sluice:config', config: next, answers, reload: true });
    c.broadcast({ type: 'sluice:fleet', answers });
    expect(w.reloads).toEqual([{ config: next, answers }]);
    expect(w.members).toEqual([answers]);
  });

  it("a stored response's owner one worker learnt reaches the others, and so does its deletion", () => {
    const c = cluster();
    const [w1, w2] = [c.addWorker(), c.addWorker()];
    const owner = { endpoint: 'b', backend: 'http://127.0.0.1:9002/' };
    // What the primary passes on of a worker's report (to the other workers).
    c.broadcast({ type: 'sluice:response-owner', id: 'resp_1', owner });
    expect(w1.stored.owner('resp_1')).toEqual(owner);
    expect(w2.stored.owner('resp_1')).toEqual(owner);
    c.broadcast({ type: 'sluice:response-owner', id: 'resp_1' });
    expect(w1.stored.owner('resp_1')).toBeUndefined();
    expect(w2.stored.owner('resp_1')).toBeUndefined();
    expect(isToPrimary({ type: 'sluice:response-owner', id: 'resp_1', owner })).toBe(true);
    expect(isToWorker({ type: 'sluice:response-owner', id: 'resp_1', owner })).toBe(true);
  });

  it('tells its own messages from the others on the channel', () => {
    expect(isToWorker({ type: 'sluice:health' })).toBe(true);
    expect(isToWorker({ type: 'prom-client:getMetricsReq' })).toBe(false);
    expect(isToWorker('NODE_CLUSTER')).toBe(false);
    expect(isToPrimary({ type: 'sluice:hello' })).toBe(true);
    expect(isToPrimary({ type: 'sluice:health' })).toBe(false);
  });
});
