import { EventEmitter } from 'node:events';
import { createContextKey, ROOT_CONTEXT } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { SynchronousContextManager } from '../../../src/telemetry/sync-context.js';

const KEY = createContextKey('test');
const ctx = (value: string) => ROOT_CONTEXT.setValue(KEY, value);

describe('SynchronousContextManager', () => {
  it('makes a context active for the synchronous extent of with(), nested, and restores it after a throw', () => {
    const manager = new SynchronousContextManager();
    expect(manager.active()).toBe(ROOT_CONTEXT);
    const seen = manager.with(ctx('outer'), () => {
      const inner = manager.with(ctx('inner'), (a: number, b: number) => `${String(manager.active().getValue(KEY))}:${a + b}`, undefined, 1, 2);
      return [inner, manager.active().getValue(KEY)];
    });
    expect(seen).toEqual(['inner:3', 'outer']);
    expect(() => manager.with(ctx('x'), () => { throw new Error('boom'); })).toThrow('boom');
    expect(manager.active()).toBe(ROOT_CONTEXT);
  });

  it('does not carry the context across an await: the request path passes it explicitly', async () => {
    const manager = new SynchronousContextManager();
    const later = await manager.with(ctx('request'), async () => {
      await Promise.resolve();
      return manager.active().getValue(KEY);
    });
    expect(later).toBeUndefined();
  });

  it('runs a bound function in its context, and leaves event emitters untouched', () => {
    const manager = new SynchronousContextManager();
    const bound = manager.bind(ctx('bound'), function (this: { n: number }, add: number) {
      return `${String(manager.active().getValue(KEY))}:${this.n + add}`;
    });
    expect(bound.call({ n: 1 }, 2)).toBe('bound:3');
    const emitter = new EventEmitter();
    const on = emitter.on;
    expect(manager.bind(ctx('bound'), emitter)).toBe(emitter);
    expect(emitter.on).toBe(on);
  });
});
