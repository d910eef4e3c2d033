import { describe, expect, it } from 'vitest';
import { ScoreSheet } from '../../../src/balancing/score-sheet.js';

describe('ScoreSheet', () => {
  it('keeps each candidate’s scores and lists them as score objects in candidate order', () => {
    const sheet = new ScoreSheet(['a', 'b']);
    sheet.set(0, 0.5, 0.25, 0, 1, 1.75, false);
    sheet.set(1, 1, 0.75, 0.5, 0.5, 2.75, true);
    expect([sheet.total(0), sheet.total(1)]).toEqual([1.75, 2.75]);
    expect(sheet.list()).toEqual([
      { endpoint: 'a', total: 1.75, queue: 0.5, kvCache: 0.25, prefix: 0, resident: 1, staleLoad: false },
      { endpoint: 'b', total: 2.75, queue: 1, kvCache: 0.75, prefix: 0.5, resident: 0.5, staleLoad: true },
    ]);
  });
});
