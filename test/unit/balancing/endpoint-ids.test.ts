import { describe, expect, it } from 'vitest';
import { EndpointIds } from '../../../src/balancing/endpoint-ids.js';

describe('EndpointIds', () => {
  it('gives each name a small id of its own, and the same one again', () => {
    const ids = new EndpointIds(() => {});
    expect([ids.assign('a'), ids.assign('b'), ids.assign('a')]).toEqual([0, 1, 0]);
    expect([ids.idOf('b'), ids.idOf('c')]).toEqual([1, undefined]);
    expect(ids.limit).toBe(2);
  });

  it('changes its version when a name gains an id, not when it is looked up', () => {
    const ids = new EndpointIds(() => {});
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
    const ids = new EndpointIds((marks) => {
      sweeps++;
      for (const id of inUse) marks[id] = 1;
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
});
