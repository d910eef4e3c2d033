import { describe, expect, it } from 'vitest';
import { resultJson } from '../../bench/routing/json.js';

describe('routing result JSON', () => {
  it('indents like JSON.stringify, with arrays of numbers on one line', () => {
    const value = { rates: [4, 8, 12], rows: [{ target: 'a', ttftSamplesMs: [120.5, 98, 1e-7] }], names: ['x', 'y'], empty: [], none: {}, missing: undefined, nan: Number.NaN, text: '[1,2]' };
    expect(resultJson(value)).toBe(
      `{
  "rates": [4, 8, 12],
  "rows": [
    {
      "target": "a",
      "ttftSamplesMs": [120.5, 98, 1e-7]
    }
  ],
  "names": [
    "x",
    "y"
  ],
  "empty": [],
  "none": {},
  "nan": null,
  "text": "[1,2]"
}
`,
    );
    expect(JSON.parse(resultJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
  });
});
