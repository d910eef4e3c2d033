import { describe, expect, it } from 'vitest';
import { EndpointIds } from '../../../src/balancing/endpoint-ids.js';

describe('EndpointIds', () => {
  it('gives each name a small id of its own, and the same one again', () => {
    const ids = new EndpointIds({ drop: () => {}, mark: () => {} });
    expect([ids.assign('a'), ids.assign('b'), ids.assign('a')]).toEqual([0, 1, 0]);
    expect([ids.idOf('b'), ids.idOf('c')]).toEqual([1, undefined]);
    expect(ids.limit).toBe(2);
  });

  it('changes its version when a name gains an id, not when it is looked up', () => {
    const ids = new EndpointIds({ drop: () => {}, mark: () => {} });
    const before = ids.version;
    ids.assign('a');
    const after = ids.version;
    ids.assign('a');
    ids.idOf('a');
    expect(after).not.toBe(before);
    expect(ids.version).toBe(after);
  });

  it('is bounded: past 1,024 names, the ones no longer in use give their ids back', () => {
    const inUse = new Set([3, 1000]);
    let sweeps = 0;
    const ids = new EndpointIds({
      drop: () => {},
      mark: (marks) => {
        sweeps++;
        for (const id of inUse) marks[id] = 1;
      },
    });
    for (let i = 0; i < 1024; i++) ids.assign(`old-${i}`);
    expect(sweeps).toBe(0);
    const version = ids.version;
    const id = ids.assign('new');
    expect(sweeps).toBe(1);
    expect(ids.version).not.toBe(version);
    expect(ids.limit).toBe(1024); // no id past the old ones: a freed one was reused
    expect(id).not.toBe(3);
    expect(id).not.toBe(1000);
    expect([ids.idOf('old-3'), ids.idOf('old-1000'), ids.idOf('old-4')]).toEqual([3, 1000, undefined]);
    // Three names left: no sweep again until there are 1,024.
    for (let i = 0; i < 1021; i++) ids.assign(`more-${i}`);
    expect(sweeps).toBe(1);
    ids.assign('one-more');
    expect(sweeps).toBe(2);
  });

  it('reuses the ids of an endpoint that keeps going down and up: its ids stay few, and none is reused while held', () => {
    // The owner as the prefix index is: claims held under ids, dropped when asked.
    const held = new Set<number>();
    const ids = new EndpointIds({
      drop: (forgotten) => {
        for (const id of held) if (forgotten[id] === 1) held.delete(id);
      },
      mark: (marks) => {
        for (const id of held) marks[id] = 1;
      },
    });
    const steady = [ids.assign('b'), ids.assign('c')];
    for (const id of steady) held.add(id);
    for (let flap = 0; flap < 10_000; flap++) {
      const id = ids.assign('a');
      expect(held.has(id)).toBe(false);
      held.add(id);
      ids.forget('a');
    }
    // Two names held: a sweep at most every 64 forgotten names, so at most 2 + 64 + 1 ids.
    expect(ids.limit).toBeLessThanOrEqual(67);
    expect([ids.idOf('b'), ids.idOf('c')]).toEqual(steady);
  });

  it('sweeps on forgotten names once per many, not on every new name, when the owner keeps what it held', () => {
    let sweeps = 0;
    const ids = new EndpointIds({
      drop: () => {},
      mark: (marks) => {
        sweeps++;
        marks.fill(1);
      },
    });
    for (let flap = 0; flap < 6_400; flap++) {
      ids.assign('a');
      ids.forget('a');
    }
    expect(sweeps).toBeLessThanOrEqual(100);
  });
});
