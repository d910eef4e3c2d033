import { describe, expect, it } from 'vitest';
import { ownerDirectory, StoredResponses, type OwnerLookup, type ResponseOwner, type SharedOwnerStore } from '../../../src/affinity/index.js';

const A: ResponseOwner = { endpoint: 'a', backend: 'http://127.0.0.1:9000/' };
const B: ResponseOwner = { endpoint: 'b', backend: 'http://127.0.0.1:9001/' };

/** A shared store in memory, as another replica wrote it; `failing` answers as a Redis gone does. */
function sharedStore(failing = false): SharedOwnerStore & { readonly map: Map<string, ResponseOwner> } {
  const map = new Map<string, ResponseOwner>();
  return {
    map,
    owner: (id) => Promise.resolve(failing ? 'error' : map.get(id)),
    remember: (id, owner) => void map.set(id, owner),
    forget: (id) => void map.delete(id),
  };
}

function parts(shared?: SharedOwnerStore) {
  const local = new StoredResponses({ maxIds: 10, ttlMs: 60_000, now: () => 0 });
  const told: Array<[string, ResponseOwner | undefined]> = [];
  const looked: OwnerLookup[] = [];
  const directory = ownerDirectory({ local: () => local, shared: () => shared, tell: (id, owner) => told.push([id, owner]), looked: (r) => looked.push(r) });
  return { local, told, looked, directory };
}

describe('the owner directory', () => {
  it('answers from the process first, at once, then asks the shared store and keeps what it found', async () => {
    const shared = sharedStore();
    const { local, looked, directory } = parts(shared);
    local.remember('resp_1', A);
    shared.map.set('resp_2', B);
    expect(directory.owner('resp_1')).toEqual(A);
    expect(await directory.owner('resp_2')).toEqual(B);
    expect(local.owner('resp_2')).toEqual(B);
    expect(await directory.owner('resp_3')).toBeUndefined();
    expect(looked).toEqual(['found', 'found_shared', 'unknown']);
  });

  it('without a shared store, an id the process does not know is unknown at once', () => {
    const { looked, directory } = parts();
    expect(directory.owner('resp_1')).toBeUndefined();
    expect(looked).toEqual(['unknown']);
  });

  it('a shared store that cannot answer leaves the owner unknown, counted as an error', async () => {
    const { looked, directory } = parts(sharedStore(true));
    expect(await directory.owner('resp_1')).toBeUndefined();
    expect(looked).toEqual(['error']);
  });

  it('what it learns goes to the process, the shared store and the sibling workers; so does a deletion', () => {
    const shared = sharedStore();
    const { local, told, directory } = parts(shared);
    directory.remember('resp_1', A);
    expect([local.owner('resp_1'), shared.map.get('resp_1')]).toEqual([A, A]);
    directory.forget('resp_1');
    expect([local.owner('resp_1'), shared.map.get('resp_1')]).toEqual([undefined, undefined]);
    expect(told).toEqual([
      ['resp_1', A],
      ['resp_1', undefined],
    ]);
  });
});
