import type { CoatcheckStore } from '../../src/stores/types.ts'

type Method = 'get' | 'create' | 'update' | 'touch' | 'destroy' | 'listByUser' | 'destroyByUser' | 'prune'

/**
 * Wraps a real store to count the session calls it receives and to inject faults a real server cannot produce on
 * demand: a method that rejects, or one that never answers.
 */
export class Instrumented {
  readonly calls: Record<string, number> = {}
  readonly store: CoatcheckStore
  readonly #failing = new Map<Method, 'reject' | 'throw' | 'hang'>()

  constructor(inner: CoatcheckStore) {
    this.store = new Proxy(inner, {
      get: (target, name, receiver) => {
        const member = Reflect.get(target, name, receiver)
        if (typeof member !== 'function') return member
        return (...args: unknown[]) => {
          this.calls[String(name)] = (this.calls[String(name)] ?? 0) + 1
          const fault = this.#failing.get(name as Method)
          if (fault === 'throw') throw new Error(`injected synchronous ${String(name)} failure`)
          if (fault === 'reject') return Promise.reject(new Error(`injected ${String(name)} failure`))
          if (fault === 'hang') return new Promise(() => {})
          return member.apply(target, args)
        }
      },
    })
  }

  count(method: Method): number {
    return this.calls[method] ?? 0
  }

  total(): number {
    return Object.values(this.calls).reduce((a, b) => a + b, 0)
  }

  fail(method: Method, how: 'reject' | 'throw' | 'hang' = 'reject'): void {
    this.#failing.set(method, how)
  }

  heal(): void {
    this.#failing.clear()
  }

  reset(): void {
    for (const key of Object.keys(this.calls)) delete this.calls[key]
  }
}

/** A controllable clock for expiry tests. */
export class Clock {
  #now: number
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start
  }
  readonly now = (): number => this.#now
  advance(ms: number): void {
    this.#now += ms
  }
}
