import { describe, expect, it } from 'vitest';
import { LineBatcher } from '../../../src/telemetry/line-batcher.js';

/** A batcher whose end-of-turn flushes run when the test says so. */
function batcher(maxChars?: number) {
  const writes: string[] = [];
  const turns: Array<() => void> = [];
  const lines = new LineBatcher((chunk) => writes.push(chunk), { maxChars, schedule: (flush) => turns.push(flush) });
  const endTurn = () => turns.splice(0).forEach((flush) => flush());
  return { lines, writes, turns, endTurn };
}

describe('LineBatcher', () => {
  it('writes the lines of one turn together, in order, at the end of the turn', () => {
    const { lines, writes, turns, endTurn } = batcher();
    lines.push('a\n');
    lines.push('b\n');
    lines.push('c\n');
    expect(writes).toEqual([]);
    expect(turns).toHaveLength(1);
    endTurn();
    expect(writes).toEqual(['a\nb\nc\n']);
    lines.push('d\n');
    endTurn();
    expect(writes).toEqual(['a\nb\nc\n', 'd\n']);
  });

  it('writes at once when the waiting lines reach the size limit, and keeps the order', () => {
    const { lines, writes, endTurn } = batcher(6);
    lines.push('aaa\n');
    lines.push('bbb\n');
    expect(writes).toEqual(['aaa\nbbb\n']);
    lines.push('c\n');
    endTurn();
    expect(writes).toEqual(['aaa\nbbb\n', 'c\n']);
  });

  it('flush writes what is waiting now, and a flush with nothing waiting writes nothing', () => {
    const { lines, writes, endTurn } = batcher();
    lines.flush();
    expect(writes).toEqual([]);
    lines.push('x\n');
    lines.flush();
    expect(writes).toEqual(['x\n']);
    endTurn();
    expect(writes).toEqual(['x\n']);
  });

  it('by default a turn ends at setImmediate', async () => {
    const writes: string[] = [];
    const lines = new LineBatcher((chunk) => writes.push(chunk));
    lines.push('1\n');
    lines.push('2\n');
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(['1\n2\n']);
  });
});
