import { invalidOption } from '../errors.ts'
import { isLegacyStore, type LegacyStore, legacyStore } from '../stores/legacy/adapter.ts'
import { memoryStore } from '../stores/memory/index.ts'
import type { SessionStore } from '../stores/types.ts'

const METHODS = ['get', 'create', 'update', 'touch', 'destroy', 'listByUser', 'destroyByUser', 'prune'] as const

/**
 * The `store` option as the sessions contract: a coatcheck store as it is, a store written for express-session
 * through the legacy adapter, the memory store by default. The usual first-hour mistakes (a Redis client or a pg Pool
 * passed directly, a factory not called, a Promise not awaited) fail at start-up naming the fix.
 */
export function resolveStore(store: SessionStore | LegacyStore | undefined): SessionStore {
  if (store === undefined) {
    if (process.env.NODE_ENV === 'production') {
      process.emitWarning(
        'coatcheck: no `store` given; sessions live in process memory and are lost on restart',
        'CoatcheckWarning',
      )
    }
    return memoryStore()
  }
  // Before the legacy check: a node-redis client has get, set and destroy too.
  const mistake = misuse(store)
  if (mistake) throw invalidOption('store', mistake)
  if (isLegacyStore(store)) return legacyStore(store)
  for (const method of METHODS) {
    if (typeof (store as unknown as Record<string, unknown>)?.[method] !== 'function') {
      throw invalidOption('store', `must implement ${method}() (a coatcheck store, or an express-session store)`)
    }
  }
  return store
}

function misuse(store: unknown): string | undefined {
  if (typeof store === 'function') {
    return 'is a function: pass the store it makes, e.g. `store: sqliteStore({ path })`, not `store: sqliteStore`'
  }
  if (typeof store !== 'object' || store === null) return 'must be a store object'
  const has = (name: string) => typeof (store as Record<string, unknown>)[name] === 'function'
  if (has('then')) return 'is a Promise: await it first, e.g. `store: await postgresStore({ pool })`'
  if (has('sendCommand') || (has('call') && has('hgetall'))) {
    return "is a Redis client: wrap it, `store: redisStore({ client })` from 'coatcheck/redis'"
  }
  if (has('query') && has('connect')) {
    return "is a pg Pool: wrap it, `store: await postgresStore({ pool })` from 'coatcheck/postgres'"
  }
  return undefined
}
