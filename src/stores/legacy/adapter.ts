import { CoatcheckError, invalidOption } from '../../errors.ts'
import { patchedData } from '../size.ts'
import type { SessionPatch, SessionRecord, SessionStore } from '../types.ts'
import { type LegacySession, toLegacy, toRecord } from './format.ts'
import { sessionsOf } from './rows.ts'

export type { LegacySession } from './format.ts'

/** A node-style callback, as express-session stores take them. */
export type StoreCallback = (error?: unknown, value?: unknown) => void

/**
 * A session store written for express-session: callback methods over whole session objects (connect-redis,
 * connect-pg-simple, connect-mongo...). `touch`, `all`, `length` and `clear` are optional there, as here.
 */
export interface LegacyStore {
  // The session parameters take any session object (not `LegacySession`, whose index signature an interface cannot
  // meet), so that stores typed against @types/express-session's `SessionData` (connect-redis) are accepted.
  get(sid: string, callback: StoreCallback): unknown
  set(sid: string, session: { cookie?: object }, callback: StoreCallback): unknown
  destroy(sid: string, callback: StoreCallback): unknown
  touch?(sid: string, session: { cookie?: object }, callback: StoreCallback): unknown
  all?(callback: StoreCallback): unknown
  length?(callback: StoreCallback): unknown
  clear?(callback: StoreCallback): unknown
}

const LOCK_WAIT_MS = 5000

/** True for an express-session style store (callback `get`/`set`/`destroy`), false for a coatcheck store. */
export function isLegacyStore(store: unknown): store is LegacyStore {
  const s = store as Record<string, unknown> | null
  return (
    typeof s?.get === 'function' &&
    typeof s.set === 'function' &&
    typeof s.destroy === 'function' &&
    typeof s.create !== 'function' &&
    typeof s.update !== 'function'
  )
}

/** The adapter's destroy with its whole answer (see {@link takeSession}). */
const TAKE = Symbol('coatcheck.legacy.take')

/**
 * Destroys `key` in `store` and resolves whether it was live: true or false, or undefined when nobody knows (the
 * legacy adapter's read before the delete failed; the delete still happened). For upgradeSessions, which moves the
 * only copy of a session and must not read "unknown" as "another request moved it first"; a coatcheck store's
 * destroy always knows.
 * @internal
 */
export function takeSession(store: SessionStore, key: string): Promise<boolean | undefined> {
  const take = (store as { [TAKE]?: (key: string) => Promise<boolean | undefined> })[TAKE]
  return take ? take(key) : store.destroy(key)
}

/**
 * The per-key locks of each callback store, shared by every adapter over it (the one session() makes, the drop-in
 * face's, upgradeSessions' and revokeAllSessions'), so that calls on one key stay in order whoever adapted the store.
 */
const LOCKS = new WeakMap<LegacyStore, Map<string, Promise<unknown>>>()

/**
 * The one adapter from a callback store to coatcheck's session contract. Keys are passed through as they are (raw
 * session IDs in drop-in mode), so sessions express-session wrote are read, and sessions written here are read by
 * express-session; the record format is `format.ts`'s. Callbacks may run synchronously or later, and methods may also
 * return promises.
 *
 * A callback store can only replace whole objects, so every write is a read, a merge and a `set`: `update`, and
 * `touch` too (a store's own `touch` only moves its TTL, as connect-redis' does, or copies the cookie, so it cannot
 * carry the contract's deadline and activity). The read is the last call before the `set`, made inside a per-key
 * lock, and a record found gone or expired is never written: concurrent requests of one process never lose each
 * other's keys nor revive a destroyed session, and a logout on another instance that lands before the read sticks.
 * What a callback store still cannot guarantee across processes, with nothing to compare-and-set:
 * - A destroy or a patch from another process that lands between this read and its `set` (one round trip) is undone:
 *   the whole object written back wins. Two processes patching one session at once lose one of the patches.
 * - `destroy` resolves true when its read found the record live; two processes destroying one record may both see
 *   it live, so a revocation racing `regenerate({ keep })` elsewhere may let the login carry over.
 * - `maxBytes` holds per process, for the same reason.
 * - `create` reads before it writes, unless the caller passes `unique` (a CSPRNG key), which skips the read.
 * The coatcheck stores (SQLite, Redis, PostgreSQL) apply each write atomically and give all of these guarantees.
 *
 * `listByUser` and `destroyByUser` scan the store's `all()` (O(all sessions)); they fail with `STORE_UNSUPPORTED`
 * (501) on a store without it, or whose `all()` holds an entry they cannot read, never answering with sessions left
 * out. `prune` is the store's business: 0.
 *
 * @example
 * ```ts
 * import { RedisStore } from 'connect-redis'
 * app.use(session({ secret, store: new RedisStore({ client }) })) // adapted by session() itself
 * ```
 */
export function legacyStore(store: LegacyStore, now: () => number = Date.now): SessionStore {
  if (!isLegacyStore(store))
    throw invalidOption('store', 'must have get(), set() and destroy() (an express-session store)')
  const locks = LOCKS.get(store) ?? new Map<string, Promise<unknown>>()
  LOCKS.set(store, locks)

  /** Runs `work` after every earlier call on `key` (waiting at most LOCK_WAIT_MS for a hung one). */
  function exclusive<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = locks.get(key)
    const run = previous === undefined ? work() : bounded(previous).then(work)
    const tail = run.then(noop, noop)
    locks.set(key, tail)
    void tail.then(() => {
      if (locks.get(key) === tail) locks.delete(key)
    })
    return run
  }

  const read = async (key: string): Promise<SessionRecord | undefined> => {
    const session = await call<LegacySession | null | undefined>(store, 'get', key).catch((error: unknown) => {
      if ((error as { code?: unknown })?.code === 'ENOENT') return undefined
      throw error
    })
    if (session === null || typeof session !== 'object') return undefined
    const at = now()
    const record = toRecord(session, at)
    return record.expiresAt > at ? record : undefined
  }
  const write = (key: string, record: SessionRecord) => call(store, 'set', key, toLegacy(record, now))

  /** Re-reads `key` and writes `change(record)` only while the record is live; resolves whether it wrote. */
  const rewrite = (key: string, change: (record: SessionRecord) => SessionRecord) =>
    exclusive(key, async () => {
      const record = await read(key)
      if (record === undefined) return false
      await write(key, change(record))
      return true
    })

  /** Destroys `key`; whether it was live, or undefined when the read before it failed (the delete still happened). */
  const take = (key: string) =>
    exclusive(key, async () => {
      const live = await read(key).then(
        (record) => record !== undefined,
        () => undefined,
      )
      await call(store, 'destroy', key)
      return live
    })
  // A failed read only costs the answer: the record is still destroyed, and reported as not live (fail closed).
  const destroy = async (key: string) => (await take(key)) === true

  async function listed(userId: string): Promise<string[]> {
    if (typeof store.all !== 'function') {
      throw new CoatcheckError(
        'STORE_UNSUPPORTED',
        'coatcheck: this express-session store has no all(), so sessions cannot be listed or revoked by user',
        501,
      )
    }
    const at = now()
    return sessionsOf(await call<unknown>(store, 'all')).flatMap(([key, session]) => {
      const record = toRecord(session, at)
      return record.userId === userId && record.expiresAt > at ? [key] : []
    })
  }

  const adapter: SessionStore = {
    get: (key) => exclusive(key, () => read(key)),
    create: (key, record, options) =>
      exclusive(key, async () => {
        if (options?.unique !== true && (await read(key)) !== undefined) return false
        await write(key, record)
        return true
      }),
    update: (key, patch) => rewrite(key, (record) => applyPatch(record, patch)),
    touch: (key, lastSeenAt, expiresAt) => rewrite(key, (record) => ({ ...record, lastSeenAt, expiresAt })),
    destroy,
    async listByUser(userId) {
      // Each one read again, as `get` reads it: `all()` results may carry fields of their own (connect-redis' `id`).
      const keys = await listed(userId)
      const records = await Promise.all(keys.map((key) => exclusive(key, () => read(key))))
      return keys.flatMap((key, i) => (records[i]?.userId === userId ? [{ key, record: records[i]! }] : []))
    },
    async destroyByUser(userId, exceptKey) {
      let removed = 0
      for (const key of await listed(userId)) if (key !== exceptKey && (await destroy(key))) removed++
      return removed
    },
    async prune() {
      return 0
    },
  }
  return Object.defineProperty(adapter, TAKE, { value: take })
}

function applyPatch(record: SessionRecord, patch: SessionPatch): SessionRecord {
  return {
    ...record,
    data: patchedData(record.data, patch),
    meta: patch.meta ?? record.meta,
    lastSeenAt: patch.lastSeenAt ?? record.lastSeenAt,
    expiresAt: patch.expiresAt ?? record.expiresAt,
  }
}

/**
 * Calls a callback-style store method as a promise. A synchronous throw, an error passed to the callback and a
 * rejected promise (stores that are async functions) all reject; a callback called before the method returns
 * (a synchronous store) resolves like a later one, and only the first answer counts.
 */
export function call<T = unknown>(store: object, method: string, ...args: unknown[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      const fn = (store as Record<string, (...a: unknown[]) => unknown>)[method]!
      const result = fn.call(store, ...args, (error: unknown, value: unknown) =>
        error ? reject(error) : resolve(value as T),
      )
      if (isThenable(result)) result.then(undefined, reject)
    } catch (error) {
      reject(error)
    }
  })
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function'
}

function bounded(previous: Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined
  const wait = new Promise((resolve) => {
    timer = setTimeout(resolve, LOCK_WAIT_MS)
    timer.unref()
  })
  return Promise.race([previous, wait]).finally(() => clearTimeout(timer))
}

function noop(): void {}
