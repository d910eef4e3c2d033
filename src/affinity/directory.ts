import type { ResponseDirectory, ResponseOwner, StoredResponses } from './stored-responses.js';

/** A store of owners shared by replicas (RedisOwners): asked, written and told of deletions. */
export interface SharedOwnerStore {
  /** 'error' when the store could not answer. */
  owner(id: string): Promise<ResponseOwner | undefined | 'error'>;
  remember(id: string, owner: ResponseOwner): void;
  forget(id: string): void;
}

/**
 * How a look-up of a stored response's owner ended: `found` in the process's own map, `found_shared`
 * in Redis (another replica's), `unknown`, or `error` (Redis could not answer). The one list the
 * metric's label values come from.
 */
export const OWNER_LOOKUPS = ['found', 'found_shared', 'unknown', 'error'] as const;
export type OwnerLookup = (typeof OWNER_LOOKUPS)[number];

export interface DirectoryParts {
  /** The process's map of the moment (a reload may replace it); undefined when turned off. */
  readonly local: () => StoredResponses | undefined;
  /** The replicas' shared store of the moment, when there is one. */
  readonly shared: () => SharedOwnerStore | undefined;
  /** Tells the process's siblings (the other cluster workers) what it learnt. */
  readonly tell?: (id: string, owner: ResponseOwner | undefined) => void;
  /** Each look-up's outcome (counted). */
  readonly looked?: (result: OwnerLookup) => void;
}

/**
 * The directory the request path uses: the process's own map first, then the replicas' shared
 * store (what is found there is kept in the map); what the process learns goes to both, and to
 * its sibling workers.
 */
export function ownerDirectory(parts: DirectoryParts): ResponseDirectory {
  const looked = parts.looked ?? (() => undefined);
  return {
    owner(id) {
      const local = parts.local()?.owner(id);
      if (local) {
        looked('found');
        return local;
      }
      const shared = parts.shared();
      if (!shared) {
        looked('unknown');
        return undefined;
      }
      return shared.owner(id).then((owner) => {
        if (owner === 'error') {
          looked('error');
          return undefined;
        }
        looked(owner ? 'found_shared' : 'unknown');
        if (owner) parts.local()?.remember(id, owner);
        return owner;
      });
    },
    remember(id, owner) {
      parts.local()?.remember(id, owner);
      parts.shared()?.remember(id, owner);
      parts.tell?.(id, owner);
    },
    forget(id) {
      parts.local()?.forget(id);
      parts.shared()?.forget(id);
      parts.tell?.(id, undefined);
    },
  };
}
