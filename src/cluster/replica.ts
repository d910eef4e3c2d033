import type { Endpoint } from '../endpoints/index.js';
import type { StateMessage } from './messages.js';
import type { ReplicaTarget } from './side.js';

/**
 * A worker's copy of the primary's state: applies each state message to the worker's runtime.
 * Messages that arrive before the runtime exists (the state sent with the first configuration)
 * wait and are applied in order when it is attached.
 */
export class Replica {
  readonly #now: () => number;
  readonly #nextCheckAt = new Map<string, number>();
  #target: ReplicaTarget | undefined;
  #pending: StateMessage[] = [];

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  attach(target: ReplicaTarget): void {
    this.#target = target;
    const pending = this.#pending;
    this.#pending = [];
    for (const message of pending) this.apply(message);
  }

  /** Milliseconds until the primary's next check of the endpoint (0 when unknown or due). */
  nextCheckInMs(endpoint: Endpoint): number {
    const at = this.#nextCheckAt.get(endpoint.name);
    return at === undefined ? 0 : Math.max(0, at - this.#now());
  }

  apply(message: StateMessage): void {
    const target = this.#target;
    if (!target) {
      // The first configuration is read by the worker's start, not applied here; a reload that
      // arrived before the runtime was attached (in the same read as the first one) waits.
      if (message.type !== 'sluice:config' || message.reload) this.#pending.push(message);
      return;
    }
    switch (message.type) {
      case 'sluice:config':
        if (message.reload) target.reload(message.config, message.answers);
        return;
      case 'sluice:fleet':
        target.membersChanged(message.answers);
        return;
      case 'sluice:health': {
        this.#nextCheckAt.set(message.endpoint, message.nextCheckAt);
        target.endpoint(message.endpoint)?.health.adopt(message.health);
        return;
      }
      case 'sluice:models': {
        for (const [name, models] of message.models) target.endpoint(name)?.setModels(models);
        target.modelsChanged(message.primed);
        return;
      }
      case 'sluice:load':
        if (message.error !== undefined) target.board.fail(message.endpoint, message.error);
        else if (message.report) target.board.record(message.endpoint, message.report);
        return;
      case 'sluice:response-owner':
        target.responseOwner(message.id, message.owner);
        return;
      case 'sluice:response-owners':
        for (const [id, owner] of message.entries) target.responseOwner(id, owner);
        return;
    }
  }
}
