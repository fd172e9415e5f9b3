import { fnOption, intOption, knownKeys, MAX_TIMER_DELAY } from '../../validate.ts'
import { withPeek } from '../peek.ts'
import { pruneLoop } from '../prune.ts'
import { patchedData } from '../size.ts'
import type { CoatcheckStore, CounterState, SessionRecord, TokenRecord } from '../types.ts'
import { frozenMeta, SessionTable } from './sessions.ts'
import { Table } from './table.ts'

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /**
   * The most sessions held at once. Creating one more first drops expired sessions, then evicts the anonymous session
   * (`userId` null) that expires soonest, and only when none is left the logged-in one that expires soonest. Must be a
   * positive integer. Default 10 000.
   */
  maxEntries?: number
  /**
   * How often expired sessions, tokens and counters are deleted, in ms, by one unref'd timer (see `prune.ts`). Must
   * be a positive integer up to 2³¹ − 1. Default 60 000 (one minute).
   */
  pruneInterval?: number
  /** The clock the store judges expiry by, in epoch ms. Must be a function. Default `Date.now`. */
  now?: () => number
}

/**
 * A store that keeps everything in this process: for tests and single-process apps. Bounded by `maxEntries`: a full
 * store drops expired sessions, then evicts anonymous ones before any logged-in one (each class soonest-expiring
 * first, in O(log n)), so a burst of new anonymous sessions cannot log users out. A session takes less memory than in
 * express-session's MemoryStore (its data is one string, decoded on read; `sessions.ts`). Expired records are
 * deleted by one unref'd timer, so it neither leaks nor keeps the process alive. `close()` stops the timer.
 *
 * @example
 * ```ts
 * import { memoryStore, session } from 'coatcheck'
 * app.use(session({ secret, store: memoryStore({ maxEntries: 50_000 }) }))
 * ```
 */
export function memoryStore(options: MemoryStoreOptions = {}): CoatcheckStore {
  const { maxEntries, pruneInterval, now } = resolveOptions(options)
  const sessions = new SessionTable(maxEntries)
  const tokens = new Table<TokenRecord>()
  const counters = new Map<string, CounterState>()

  // Anonymous sessions go first: a burst of them (a crawler) must not push logged-in users out.
  function makeRoom(): void {
    if (sessions.size < maxEntries) return
    sessions.dropExpired(now())
    while (sessions.size >= maxEntries && sessions.evictOne()) {}
  }

  function prune(): number {
    const t = now()
    for (const [id, token] of tokens.records) if (token.expiresAt <= t) tokens.delete(id)
    for (const [key, counter] of counters) if (counter.resetAt <= t) counters.delete(key)
    return sessions.dropExpired(t)
  }

  const stop = pruneLoop('memoryStore()', prune, pruneInterval)

  /** The live record under `key`, frozen: the engine's synchronous read; `get` hands out a copy of it. */
  function read(key: string): SessionRecord | undefined {
    const slot = sessions.live(key, now())
    return slot < 0 ? undefined : sessions.record(slot)
  }

  return withPeek(read, {
    async get(key) {
      const record = read(key)
      return record && { ...record }
    },
    async create(key, record) {
      if (sessions.live(key, now()) >= 0) return false
      makeRoom()
      sessions.add(key, record)
      return true
    },
    async update(key, patch) {
      const slot = sessions.live(key, now())
      if (slot < 0) return false
      if (patch.set || patch.unset) {
        sessions.setData(slot, patchedData(sessions.data(slot), patch))
      }
      if (patch.meta) sessions.setMeta(slot, patch.meta)
      if (patch.lastSeenAt !== undefined) sessions.setLastSeen(slot, patch.lastSeenAt)
      if (patch.expiresAt !== undefined) sessions.setExpires(slot, patch.expiresAt)
      return true
    },
    async touch(key, lastSeenAt, expiresAt) {
      const slot = sessions.live(key, now())
      if (slot < 0) return false
      sessions.setLastSeen(slot, lastSeenAt)
      sessions.setExpires(slot, expiresAt)
      return true
    },
    async destroy(key) {
      const live = sessions.live(key, now()) >= 0
      sessions.delete(key)
      return live
    },
    async listByUser(userId) {
      const t = now()
      return sessions.keysOf(userId).flatMap((key) => {
        const slot = sessions.live(key, t)
        return slot < 0 ? [] : [{ key, record: { ...sessions.record(slot) } }]
      })
    },
    async destroyByUser(userId, exceptKey) {
      return sessions.deleteUser(userId, now(), exceptKey)
    },
    async prune() {
      return prune()
    },
    tokens: {
      async create(id, record) {
        if (tokens.live(id, now()) !== undefined) return false
        tokens.add(id, { ...record, meta: frozenMeta(record.meta) })
        return true
      },
      async get(id) {
        const token = tokens.live(id, now())
        return token && { ...token }
      },
      async rotate(id, expectedHash, next) {
        const token = tokens.live(id, now())
        if (token === undefined || token.hash !== expectedHash) return false
        token.hash = next.hash
        token.expiresAt = next.expiresAt
        token.previousHash = expectedHash
        token.rotatedAt = next.rotatedAt
        if (next.meta) token.meta = frozenMeta(next.meta)
        return true
      },
      async destroy(id) {
        tokens.delete(id)
      },
      async listByUser(userId) {
        const t = now()
        return tokens.keysOf(userId).flatMap((id) => {
          const token = tokens.live(id, t)
          return token ? [{ id, record: { ...token } }] : []
        })
      },
      async destroyByUser(userId) {
        return tokens.deleteUser(userId, now())
      },
    },
    counters: {
      async hit(key, windowMs) {
        const t = now()
        let counter = counters.get(key)
        if (counter === undefined || counter.resetAt <= t) {
          counter = { count: 0, resetAt: t + windowMs }
          counters.set(key, counter)
        }
        counter.count++
        return { ...counter }
      },
      async peek(key) {
        const counter = counters.get(key)
        return counter && counter.resetAt > now() ? { ...counter } : undefined
      },
      async reset(key) {
        counters.delete(key)
      },
    },
    async close() {
      stop()
    },
  })
}

function resolveOptions(options: MemoryStoreOptions): Readonly<Required<MemoryStoreOptions>> {
  knownKeys('memoryStore()', options, ['maxEntries', 'pruneInterval', 'now'], {
    hints: { sweepInterval: 'it was renamed to `pruneInterval`' },
  })
  return Object.freeze({
    maxEntries: intOption('maxEntries', options.maxEntries, 10_000),
    pruneInterval: intOption('pruneInterval', options.pruneInterval, 60_000, { max: MAX_TIMER_DELAY }),
    now: fnOption('now', options.now, Date.now),
  })
}
