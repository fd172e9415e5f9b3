import { parseData, parseStored } from '../../core/json.ts'
import { CoatcheckError } from '../../errors.ts'
import type { SessionEntry, SessionMeta, SessionPatch, SessionRecord, SessionStore, StoredData } from '../types.ts'

/** A node-style callback, as express-session stores take them. */
export type StoreCallback = (error?: unknown, value?: unknown) => void

/**
 * A session store written for express-session: callback methods over whole session objects (connect-redis,
 * connect-pg-simple, connect-mongo...). `touch`, `all`, `length` and `clear` are optional there, as here.
 */
export interface LegacyStore {
  get(sid: string, callback: StoreCallback): unknown
  set(sid: string, session: LegacySession, callback: StoreCallback): unknown
  destroy(sid: string, callback: StoreCallback): unknown
  touch?(sid: string, session: LegacySession, callback: StoreCallback): unknown
  all?(callback: StoreCallback): unknown
  length?(callback: StoreCallback): unknown
  clear?(callback: StoreCallback): unknown
}

/** A session as express-session stores hold it: its data plus a `cookie` object. */
export interface LegacySession {
  cookie?: Record<string, unknown>
  [key: string]: unknown
}

/**
 * The deadline of a session without one (express-session's browser-session cookie: no `expires`). The store's own
 * TTL rules it. A date every backend can hold (year 9999), not Infinity, which JSON cannot.
 */
export const NO_DEADLINE = 253_402_300_799_000

/** Where a record's facts that express-session has no place for travel inside the stored object. */
const OWN = '__coatcheck'
/** The meta entry holding the cookie's attributes (JSON text): express-session restores them from the store. */
export const COOKIE_META = 'cookie'
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

/**
 * The one adapter from a callback store to coatcheck's session contract. Keys are passed through as they are (raw
 * session IDs in drop-in mode), so sessions express-session wrote are read, and sessions written here are read by
 * express-session.
 *
 * A session maps to a record as follows: every top-level key but `cookie` is data; `cookie.expires` is the deadline
 * (none: {@link NO_DEADLINE}, the store's TTL decides); `expires − originalMaxAge` is the last activity (express-session
 * slides `expires` by `originalMaxAge` on every touch); the cookie's other attributes, `originalMaxAge` included, travel
 * in `meta.cookie` (JSON text). A user,
 * meta, creation time and absolute deadline (modern mode) travel in a `__coatcheck` key of the stored object.
 *
 * Limits, because a callback store can only replace whole objects: `update` and `touch` read, merge and write back.
 * Calls on one key are serialized within this process, so concurrent requests of one process do not lose each other's
 * keys; across processes the last writer of the whole object wins. `listByUser` and `destroyByUser` scan the store's
 * `all()` (O(all sessions)) and fail with status 501 on a store without it. `prune` is the store's business: 0.
 */
export function legacyStore(store: LegacyStore, now: () => number = Date.now): SessionStore {
  if (!isLegacyStore(store)) throw new TypeError('legacyStore(): the store must have get(), set() and destroy()')
  const locks = new Map<string, Promise<unknown>>()

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
    const record = toRecord(session, now())
    return record.expiresAt > now() ? record : undefined
  }
  const write = (key: string, record: SessionRecord) => call(store, 'set', key, toLegacy(record))

  return {
    get: (key) => exclusive(key, () => read(key)),
    create: (key, record) =>
      exclusive(key, async () => {
        if ((await read(key)) !== undefined) return false
        await write(key, record)
        return true
      }),
    update: (key, patch) =>
      exclusive(key, async () => {
        const record = await read(key)
        if (record === undefined) return false
        await write(key, applyPatch(record, patch))
        return true
      }),
    touch: (key, lastSeenAt, expiresAt) =>
      exclusive(key, async () => {
        const record = await read(key)
        if (record === undefined) return false
        const touched = toLegacy({ ...record, lastSeenAt, expiresAt })
        await (typeof store.touch === 'function'
          ? call(store, 'touch', key, touched)
          : call(store, 'set', key, touched))
        return true
      }),
    destroy: (key) => exclusive(key, () => call(store, 'destroy', key).then(noop)),
    async listByUser(userId) {
      return (await everySession(store, now())).filter((entry) => entry.record.userId === userId)
    },
    async destroyByUser(userId, exceptKey) {
      let removed = 0
      for (const { key, record } of await everySession(store, now())) {
        if (record.userId !== userId || key === exceptKey) continue
        await exclusive(key, () => call(store, 'destroy', key))
        removed++
      }
      return removed
    },
    async prune() {
      return 0
    },
  }
}

/** The record for a session object as an express-session store returns it. */
export function toRecord(session: LegacySession, at: number): SessionRecord {
  const cookie = isObject(session.cookie) ? session.cookie : {}
  const own = isObject(session[OWN]) ? session[OWN] : {}
  const expires = toTime(cookie.expires)
  const maxAge = typeof cookie.originalMaxAge === 'number' ? cookie.originalMaxAge : undefined
  const lastSeenAt = toTime(own.lastSeenAt) ?? (expires !== undefined && maxAge !== undefined ? expires - maxAge : at)
  const data: StoredData = Object.create(null)
  for (const key of Object.keys(session)) {
    if (key === 'cookie' || key === OWN) continue
    const json = JSON.stringify(session[key])
    if (json !== undefined) data[key] = json
  }
  const { expires: _expires, ...attributes } = cookie
  const meta: SessionMeta = {}
  if (isObject(own.meta)) {
    for (const [name, value] of Object.entries(own.meta)) if (isMetaValue(value)) meta[name] = value
  }
  meta[COOKIE_META] = JSON.stringify(attributes)
  return {
    data,
    userId: typeof own.userId === 'string' ? own.userId : null,
    meta,
    createdAt: toTime(own.createdAt) ?? lastSeenAt,
    lastSeenAt,
    expiresAt: expires ?? NO_DEADLINE,
    absoluteExpiresAt: toTime(own.absoluteExpiresAt) ?? NO_DEADLINE,
  }
}

/** The session object an express-session store is given for a record; the inverse of {@link toRecord}. */
export function toLegacy(record: SessionRecord): LegacySession {
  const { [COOKIE_META]: attributesJson, ...meta } = record.meta
  const stored = typeof attributesJson === 'string' ? parseStored(attributesJson) : undefined
  const attributes = isObject(stored) ? stored : { path: '/', httpOnly: true }
  const endless = record.expiresAt >= NO_DEADLINE
  const session: LegacySession = {
    cookie: {
      originalMaxAge: endless ? null : record.expiresAt - record.lastSeenAt,
      ...attributes,
      expires: endless ? null : new Date(record.expiresAt),
    },
  }
  Object.assign(session, parseData(record.data))
  const modern = record.userId !== null || record.absoluteExpiresAt < NO_DEADLINE || Object.keys(meta).length > 0
  if (modern) {
    session[OWN] = {
      userId: record.userId,
      meta,
      createdAt: record.createdAt,
      lastSeenAt: record.lastSeenAt,
      absoluteExpiresAt: record.absoluteExpiresAt,
    }
  }
  return session
}

function applyPatch(record: SessionRecord, patch: SessionPatch): SessionRecord {
  const data: StoredData = Object.assign(Object.create(null), record.data)
  for (const key of patch.unset ?? []) delete data[key]
  Object.assign(data, patch.set)
  return {
    data,
    userId: patch.userId !== undefined ? patch.userId : record.userId,
    meta: patch.meta ?? record.meta,
    createdAt: record.createdAt,
    lastSeenAt: patch.lastSeenAt ?? record.lastSeenAt,
    expiresAt: patch.expiresAt ?? record.expiresAt,
    absoluteExpiresAt: patch.absoluteExpiresAt ?? record.absoluteExpiresAt,
  }
}

async function everySession(store: LegacyStore, at: number): Promise<SessionEntry[]> {
  if (typeof store.all !== 'function') {
    throw new CoatcheckError(
      'STORE_UNSUPPORTED',
      'coatcheck: this express-session store has no all(), so sessions cannot be listed or revoked by user',
      501,
    )
  }
  const all = await call<unknown>(store, 'all')
  const entries: SessionEntry[] = []
  const add = (key: unknown, session: unknown) => {
    if (typeof key !== 'string' || !isObject(session)) return
    const record = toRecord(session, at)
    if (record.expiresAt > at) entries.push({ key, record })
  }
  if (Array.isArray(all)) {
    // connect-redis and others list sessions as an array, each with its ID added as `id`.
    for (const item of all) {
      if (!isObject(item)) continue
      const { id, ...session } = item
      add(id, session)
    }
  } else if (isObject(all)) {
    for (const [key, session] of Object.entries(all)) add(key, session)
  }
  return entries
}

/**
 * Calls a callback-style store method as a promise. A synchronous throw, an error passed to the callback and a
 * rejected promise (stores that are async functions) all reject.
 */
export function call<T = unknown>(store: object, method: string, ...args: unknown[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      const fn = (store as Record<string, (...a: unknown[]) => unknown>)[method]!
      const result = fn.call(store, ...args, (error: unknown, value: unknown) =>
        error ? reject(error) : resolve(value as T),
      )
      if (result instanceof Promise) result.catch(reject)
    } catch (error) {
      reject(error)
    }
  })
}

function bounded(previous: Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined
  const wait = new Promise((resolve) => {
    timer = setTimeout(resolve, LOCK_WAIT_MS)
    timer.unref()
  })
  return Promise.race([previous, wait]).finally(() => clearTimeout(timer))
}

function toTime(value: unknown): number | undefined {
  if (value === null || value === undefined || value === '') return undefined
  const time = value instanceof Date ? value.valueOf() : typeof value === 'number' ? value : Date.parse(String(value))
  return Number.isFinite(time) ? time : undefined
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isMetaValue(value: unknown): value is SessionMeta[string] {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value)
}

function noop(): void {}
