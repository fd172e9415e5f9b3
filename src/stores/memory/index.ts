import { nullProto } from '../../core/json.ts'
import { fnOption, intOption, knownKeys, MAX_TIMER_DELAY } from '../../validate.ts'
import { withPeek } from '../peek.ts'
import { pruneLoop } from '../prune.ts'
import { checkBytes, dataBytes } from '../size.ts'
import type { CoatcheckStore, CounterState, SessionMeta, SessionRecord, StoredData, TokenRecord } from '../types.ts'
import { heapPop, heapPush } from './heap.ts'
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
 * first, in amortized O(log n)), so a burst of new anonymous sessions cannot log users out. Expired records are
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
  const sessions = new Table<SessionRecord>()
  let anonymous: Deadline[] = []
  let withUser: Deadline[] = []
  const tokens = new Table<TokenRecord>()
  const counters = new Map<string, CounterState>()

  // Every session has a current entry at its present deadline in the heap of its class (anonymous or with a user,
  // fixed at create). Entries left behind by a touch, an update or a replaced record are stale and skipped when they
  // surface; rebuilding once they outnumber live ones keeps the heaps O(n) and every operation amortized O(log n).
  const isCurrent = (e: Deadline) => sessions.records.get(e.key) === e.record && e.record.expiresAt === e.at
  const heapOf = (record: SessionRecord) => (record.userId === null ? anonymous : withUser)

  function schedule(key: string, record: SessionRecord, expiresAt: number): void {
    record.expiresAt = expiresAt
    heapPush(heapOf(record), { at: expiresAt, key, record })
    if (anonymous.length + withUser.length > 2 * sessions.records.size + 64) {
      const all = [...sessions.records].map(([k, r]) => ({ at: r.expiresAt, key: k, record: r }))
      all.sort((a, b) => a.at - b.at)
      anonymous = all.filter((e) => e.record.userId === null)
      withUser = all.filter((e) => e.record.userId !== null)
    }
  }

  function dropExpiredSessions(): number {
    const t = now()
    let removed = 0
    for (const heap of [anonymous, withUser]) {
      for (let top = heap[0]; top !== undefined && top.at <= t; top = heap[0]) {
        heapPop(heap)
        if (isCurrent(top) && sessions.delete(top.key)) removed++
      }
    }
    return removed
  }

  // Anonymous sessions go first: a burst of them (a crawler) must not push logged-in users out.
  function makeRoom(): void {
    if (sessions.records.size < maxEntries) return
    dropExpiredSessions()
    while (sessions.records.size >= maxEntries) {
      const top = heapPop(anonymous) ?? heapPop(withUser)
      if (top === undefined) break
      if (isCurrent(top)) sessions.delete(top.key)
    }
  }

  function prune(): number {
    const t = now()
    for (const [id, token] of tokens.records) if (token.expiresAt <= t) tokens.delete(id)
    for (const [key, counter] of counters) if (counter.resetAt <= t) counters.delete(key)
    return dropExpiredSessions()
  }

  const stop = pruneLoop('memoryStore()', prune, pruneInterval)

  return withPeek((key) => sessions.live(key, now()), {
    async get(key) {
      const record = sessions.live(key, now())
      return record && { ...record }
    },
    async create(key, record) {
      if (sessions.live(key, now()) !== undefined) return false
      makeRoom()
      const stored = copySession(record)
      sessions.add(key, stored)
      schedule(key, stored, stored.expiresAt)
      return true
    },
    async update(key, patch) {
      const record = sessions.live(key, now())
      if (record === undefined) return false
      if (patch.set || patch.unset) {
        // Unset first, as every backend does: a key both unset and set ends up set.
        const data = nullProto<string>(record.data)
        for (const name of patch.unset ?? []) delete data[name]
        Object.assign(data, patch.set)
        if (patch.maxBytes !== undefined) checkBytes(dataBytes(record.data), dataBytes(data), patch.maxBytes)
        record.data = Object.freeze(data)
      }
      if (patch.meta) record.meta = frozenMeta(patch.meta)
      if (patch.lastSeenAt !== undefined) record.lastSeenAt = patch.lastSeenAt
      if (patch.expiresAt !== undefined && patch.expiresAt !== record.expiresAt) schedule(key, record, patch.expiresAt)
      return true
    },
    async touch(key, lastSeenAt, expiresAt) {
      const record = sessions.live(key, now())
      if (record === undefined) return false
      record.lastSeenAt = lastSeenAt
      if (expiresAt !== record.expiresAt) schedule(key, record, expiresAt)
      return true
    },
    async destroy(key) {
      const live = sessions.live(key, now()) !== undefined
      sessions.delete(key)
      return live
    },
    async listByUser(userId) {
      const t = now()
      return sessions.keysOf(userId).flatMap((key) => {
        const record = sessions.live(key, t)
        return record ? [{ key, record: { ...record } }] : []
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

// Records (sessions and tokens) are copied in and their data and meta frozen; updates replace them (copy on write), so
// reads can hand out shallow copies without letting a caller reach the store's state. The data has no prototype, so a
// key named `__proto__` or `constructor` is just a key.
function copySession(record: SessionRecord): SessionRecord {
  const data: StoredData = nullProto(record.data)
  return { ...record, data: Object.freeze(data), meta: frozenMeta(record.meta) }
}

// Spreading defines own properties, so a meta key named `__proto__` stays a plain key here too.
const frozenMeta = (meta: SessionMeta): SessionMeta => Object.freeze({ ...meta })

interface Deadline {
  at: number
  key: string
  record: SessionRecord
}
