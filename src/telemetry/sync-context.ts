import { ROOT_CONTEXT, type Context, type ContextManager } from '@opentelemetry/api';

/**
 * A context manager that keeps the active context only for the synchronous extent of
 * `context.with`, as the browser's stack manager does. Sluice's request path does not rely on an
 * ambient context across awaits: it captures the server span's context when a request arrives
 * (the HTTP instrumentation calls the request listener inside it) and passes it explicitly to
 * its attempt spans, its trace propagation, the access log and the exemplars. On Node 20 the
 * AsyncLocalStorage manager runs async hooks on every promise and wraps every listener added to
 * the request and response, which cost more CPU per request than the spans themselves (README,
 * Performance). Event emitters are therefore never patched; bound functions still run in their
 * context.
 */
export class SynchronousContextManager implements ContextManager {
  #active: Context = ROOT_CONTEXT;

  active(): Context {
    return this.#active;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(context: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    const previous = this.#active;
    this.#active = context;
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.#active = previous;
    }
  }

  bind<T>(context: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const manager = this;
    const fn = target as unknown as (...args: unknown[]) => unknown;
    return function (this: unknown, ...args: unknown[]) {
      return manager.with(context, () => fn.apply(this, args));
    } as unknown as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.#active = ROOT_CONTEXT;
    return this;
  }
}
