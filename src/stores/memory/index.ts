import { fnOption, intOption, MAX_TIMER_DELAY } from '../../validate.ts'
import type { CoatcheckStore, CounterState, SessionRecord, StoredData, TokenRecord } from '../types.ts'
import { heapPop, heapPush } from './heap.ts'

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /**
   * The most sessions held at once. Creating one more first drops expired sessions, then evicts the anonymous session
   * (`userId` null) that expires soonest, and only when none is left the logged-in one that expires soonest. Must be a
   * positive integer. Default 10 000.
   */
  maxEntries?: number
  /**
   * How often expired sessions, tokens and counters are swept, in ms. Must be a positive integer up to 2³¹ − 1.
   * Default 60 000 (one minute).
   */
  sweepInterval?: number
  /** The clock the store judges expiry by, in epoch ms. Must be a function. Default `Date.now`. */
  now?: () => number
}

/**
 * A store that keeps everything in this process: for tests and single-process apps. Bounded by `maxEntries`: a full
 * store drops expired sessions, then evicts anonymous ones before any logged-in one (each class soonest-expiring
 * first, in amortized O(log n)), so a burst of new anonymous sessions cannot log users out. Expired records are swept
 * by one unref'd timer, so it neither leaks nor keeps the process alive. `close()` stops the timer.
 */
export function memoryStore(options: MemoryStoreOptions = {}): CoatcheckStore {
  const { maxEntries, sweepInterval, now } = resolveOptions(options)
  const sessions = new Table<SessionRecord>()
  let anonymous: Deadline[] = []
  let withUser: Deadline[] = []
  const tokens = new Table<TokenRecord>()
  const counters = new Map<string, CounterState>()

  // Every session has a current entry at its present deadline in the heap of its class (anonymous or with a user).
  // Entries left behind by a touch, an update, a login or logout or a replaced record are stale and skipped when they
  // surface; rebuilding once they outnumber live ones keeps the heaps O(n) and every operation amortized O(log n).
  const isCurrent = (e: Deadline) =>
    sessions.records.get(e.key) === e.record &&
    e.record.expiresAt === e.at &&
    (e.record.userId === null) === e.anonymous

  function schedule(key: string, record: SessionRecord, expiresAt: number): void {
    record.expiresAt = expiresAt
    const entry = { at: expiresAt, key, record, anonymous: record.userId === null }
    heapPush(entry.anonymous ? anonymous : withUser, entry)
    if (anonymous.length + withUser.length > 2 * sessions.records.size + 64) {
      const all = [...sessions.records]
        .map(([k, r]) => ({ at: r.expiresAt, key: k, record: r, anonymous: r.userId === null }))
        .sort((a, b) => a.at - b.at)
      anonymous = all.filter((e) => e.anonymous)
      withUser = all.filter((e) => !e.anonymous)
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

  const timer = setInterval(prune, sweepInterval)
  timer.unref()

  return {
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
        const data = Object.assign(Object.create(null) as StoredData, record.data, patch.set)
        for (const name of patch.unset ?? []) delete data[name]
        record.data = Object.freeze(data)
      }
      const wasAnonymous = record.userId === null
      if (patch.userId !== undefined) sessions.setUser(key, record, patch.userId)
      if (patch.meta) record.meta = Object.freeze({ ...patch.meta })
      if (patch.lastSeenAt !== undefined) record.lastSeenAt = patch.lastSeenAt
      if (patch.absoluteExpiresAt !== undefined) record.absoluteExpiresAt = patch.absoluteExpiresAt
      const expiresAt = patch.expiresAt ?? record.expiresAt
      // A login or logout moves the session to the other eviction class.
      if (expiresAt !== record.expiresAt || (record.userId === null) !== wasAnonymous) schedule(key, record, expiresAt)
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
      sessions.delete(key)
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
        tokens.add(id, { ...record })
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
        return true
      },
      async destroy(id) {
        tokens.delete(id)
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
      clearInterval(timer)
    },
  }
}

function resolveOptions(options: MemoryStoreOptions): Readonly<Required<MemoryStoreOptions>> {
  return Object.freeze({
    maxEntries: intOption('maxEntries', options.maxEntries, 10_000),
    sweepInterval: intOption('sweepInterval', options.sweepInterval, 60_000, { max: MAX_TIMER_DELAY }),
    now: fnOption('now', options.now, Date.now),
  })
}

// Records are copied in and their data and meta frozen; updates replace them (copy on write), so reads can hand out
// shallow copies without letting a caller reach the store's state.
function copySession(record: SessionRecord): SessionRecord {
  // Null-prototype, so a key named `__proto__` or `constructor` is just a key.
  const data = Object.assign(Object.create(null) as StoredData, record.data)
  return { ...record, data: Object.freeze(data), meta: Object.freeze({ ...record.meta }) }
}

/** Records by key, indexed by user. A user without records leaves no empty set behind. */
class Table<T extends { userId: string | null; expiresAt: number }> {
  readonly records = new Map<string, T>()
  readonly #byUser = new Map<string, Set<string>>()

  /** The record under `key`, deleted and not returned once its deadline is at or before `now`. */
  live(key: string, now: number): T | undefined {
    const record = this.records.get(key)
    if (record === undefined || record.expiresAt > now) return record
    this.delete(key)
  }

  add(key: string, record: T): void {
    this.delete(key)
    this.records.set(key, record)
    this.#index(key, record.userId)
  }

  setUser(key: string, record: T, userId: string | null): void {
    this.#unindex(key, record.userId)
    record.userId = userId
    this.#index(key, userId)
  }

  delete(key: string): boolean {
    const record = this.records.get(key)
    if (record === undefined) return false
    this.records.delete(key)
    this.#unindex(key, record.userId)
    return true
  }

  /** A snapshot, so callers may delete while they iterate. */
  keysOf(userId: string): string[] {
    return [...(this.#byUser.get(userId) ?? [])]
  }

  /** Deletes every record of one user but `exceptKey`; returns how many of them were live. */
  deleteUser(userId: string, now: number, exceptKey?: string): number {
    let live = 0
    for (const key of this.keysOf(userId)) {
      if (key === exceptKey) continue
      if (this.records.get(key)!.expiresAt > now) live++
      this.delete(key)
    }
    return live
  }

  #index(key: string, userId: string | null): void {
    if (userId === null) return
    const keys = this.#byUser.get(userId)
    if (keys) keys.add(key)
    else this.#byUser.set(userId, new Set([key]))
  }

  #unindex(key: string, userId: string | null): void {
    const keys = userId === null ? undefined : this.#byUser.get(userId)
    if (keys?.delete(key) && keys.size === 0) this.#byUser.delete(userId!)
  }
}

interface Deadline {
  at: number
  key: string
  record: SessionRecord
  /** The eviction class: current only while it matches the record's. */
  anonymous: boolean
}
