import { describe, expect, it } from 'vitest';
import { ModelResidency } from '../../../../src/model-server/engine/index.js';
import { ManualClock } from '../../../helpers/manual-clock.js';

describe('ModelResidency', () => {
  it('loads a cold model in loadMs, unloading the least recently used one', async () => {
    const clock = new ManualClock();
    const unloaded: string[] = [];
    const residency = new ModelResidency(2, 500, clock, (name) => unloaded.push(name));
    residency.preload(['a', 'b', 'c']);
    expect(residency.list().map((m) => m.name)).toEqual(['b', 'a']);
    expect(await residency.use('a')).toBe(0);
    const waits: number[] = [];
    const first = residency.use('c').then((ms) => waits.push(ms));
    const second = residency.use('c').then((ms) => waits.push(ms));
    await clock.flush();
    // b was used least recently: it makes room at once, before the load completes.
    expect(unloaded).toEqual(['b']);
    clock.advance(499);
    await clock.flush();
    expect(waits).toEqual([]);
    clock.advance(1);
    await Promise.all([first, second]);
    expect(waits).toEqual([500, 500]);
    expect(residency.list().map((m) => m.name)).toEqual(['c', 'a']);
  });
});
