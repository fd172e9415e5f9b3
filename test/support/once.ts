import type { CoatcheckStore } from '../../src/stores/types.ts'

type Method = 'get' | 'create' | 'update' | 'touch' | 'destroy' | 'listByUser' | 'destroyByUser'

/**
 * Wraps a store so that the next call of one method first runs a hook, once: a pause (a Gate's `wait`) or a thrown,
 * transient failure. `Instrumented` (faults.ts) fails every call until healed; the races and retries these tests pin
 * down need exactly one call to misbehave, and the next one (a retry, a clean-up) to work.
 */
export class Once {
  readonly store: CoatcheckStore
  readonly #next = new Map<string, () => unknown>()

  constructor(inner: CoatcheckStore) {
    this.store = new Proxy(inner, {
      get: (target, name, receiver) => {
        const member = Reflect.get(target, name, receiver)
        if (typeof member !== 'function') return member
        return async (...args: unknown[]) => {
          const hook = this.#next.get(String(name))
          this.#next.delete(String(name))
          await hook?.()
          return member.apply(target, args)
        }
      },
    })
  }

  /** Runs `hook` before the next call of `method` (awaited: a pause holds the call back). */
  next(method: Method, hook: () => unknown): void {
    this.#next.set(method, hook)
  }

  /** Makes the next call of `method` reject, once. */
  fail(method: Method): void {
    this.next(method, () => {
      throw new Error(`injected one-off ${method} failure`)
    })
  }
}
