/**
 * The express-session record format, in one place: how a session object as express-session and its stores hold it
 * maps to a coatcheck record and back. The legacy adapter writes callback stores with it; the drop-in face reads and
 * writes `req.session.cookie` by the same rules.
 *
 * - Data: every top-level key but `cookie` and `__coatcheck` is a data key, its value the parsed JSON. Those two names
 *   cannot round-trip (the engine reserves them): {@link toLegacy} never writes a data key under them, and
 *   {@link toRecord} never reads either as data, so no data key can ever be read as the envelope.
 * - Deadlines: `cookie.expires` is the deadline (none: {@link NO_DEADLINE}, the store's TTL decides), and
 *   `expires − originalMaxAge` the last activity (express-session slides `expires` by `originalMaxAge` on a touch).
 * - The cookie's attributes, `originalMaxAge` included and `expires` not, travel in `meta.cookie` ({@link COOKIE_META},
 *   JSON text): express-session restores a session's cookie from the store.
 * - The envelope: what express-session has no place for (a user, meta beyond the cookie, the creation time, an
 *   absolute deadline) travels in a `__coatcheck` key of the stored object. It is written for every record except one
 *   express-session itself could have written: no user, no absolute deadline, meta holding the cookie attributes and
 *   nothing else. Modern mode's records never have `meta.cookie`, so they always carry it (whatever their timeouts);
 *   drop-in mode's records never need it, so they are stored exactly as express-session stores them.
 */
import { parseStored } from '../../core/json.ts'
import type { SessionMeta, SessionRecord, StoredData } from '../types.ts'

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

/** The meta entry holding the cookie's attributes (JSON text). */
export const COOKIE_META = 'cookie'

/** The key of the stored object that carries the envelope. */
export const ENVELOPE = '__coatcheck'

/** The two top-level names that are never data. */
export const RESERVED = [COOKIE_META, ENVELOPE] as const

/** A cookie as the format reads it: express-session's `Cookie`, or its JSON as a store hands it back. */
export interface CookieLike {
  expires?: unknown
  originalMaxAge?: unknown
}

/** The data of a session object: JSON text per top-level key but the reserved two (keys without JSON are absent). */
export function dataOf(session: object): StoredData {
  const data: StoredData = Object.create(null)
  for (const key of Object.keys(session)) {
    if (key === COOKIE_META || key === ENVELOPE) continue
    const json = JSON.stringify((session as Record<string, unknown>)[key])
    if (json !== undefined) data[key] = json
  }
  return data
}

/** The deadline and last activity a cookie stands for; `at` is the activity when the cookie cannot tell. */
export function deadlinesOf(cookie: CookieLike | undefined, at: number): { lastSeenAt: number; expiresAt: number } {
  const expires = toTime(cookie?.expires)
  const maxAge = cookie?.originalMaxAge
  if (expires === undefined) return { lastSeenAt: at, expiresAt: NO_DEADLINE }
  return { lastSeenAt: typeof maxAge === 'number' ? expires - maxAge : at, expiresAt: expires }
}

/** The `meta.cookie` text of a cookie: its attributes without `expires` (which the deadline carries). */
export function cookieMeta(attributes: Record<string, unknown>): string {
  const { expires: _expires, maxAge: _maxAge, ...rest } = attributes
  return JSON.stringify(rest)
}

/**
 * The cookie a record stands for: `expires` from the deadline (null without one), the stored attributes (undefined
 * when the record has none: a modern record), and `originalMaxAge` from the attributes or else from the deadlines.
 */
export function cookieOf(record: SessionRecord): {
  attributes: Record<string, unknown> | undefined
  expires: Date | null
  originalMaxAge: number | null
} {
  const json = record.meta[COOKIE_META]
  const parsed = typeof json === 'string' ? parseStored(json) : undefined
  const attributes = isObject(parsed) ? parsed : undefined
  const endless = record.expiresAt >= NO_DEADLINE
  const stored = attributes?.originalMaxAge
  const originalMaxAge =
    typeof stored === 'number' || stored === null ? stored : endless ? null : record.expiresAt - record.lastSeenAt
  return { attributes, expires: endless ? null : new Date(record.expiresAt), originalMaxAge }
}

/** The record of a drop-in session: no user, no absolute deadline, its cookie's attributes in `meta.cookie`. */
export function dropInRecord(
  data: StoredData,
  cookie: CookieLike & Record<string, unknown>,
  meta: SessionMeta,
  at: number,
): SessionRecord {
  const { lastSeenAt, expiresAt } = deadlinesOf(cookie, at)
  const withCookie = { ...meta, [COOKIE_META]: cookieMeta(cookie) }
  return { data, userId: null, meta: withCookie, createdAt: at, lastSeenAt, expiresAt, absoluteExpiresAt: NO_DEADLINE }
}

/** The record for a session object as an express-session store returns it; `at` is the clock's now. */
export function toRecord(session: LegacySession, at: number): SessionRecord {
  const cookie = isObject(session.cookie) ? session.cookie : {}
  const own = envelope(session[ENVELOPE])
  const { lastSeenAt, expiresAt } = deadlinesOf(cookie, own?.lastSeenAt ?? at)
  return {
    data: dataOf(session),
    userId: own?.userId ?? null,
    meta: own?.meta ?? { [COOKIE_META]: cookieMeta(cookie) },
    createdAt: own?.createdAt ?? lastSeenAt,
    lastSeenAt,
    expiresAt,
    absoluteExpiresAt: own?.absoluteExpiresAt ?? NO_DEADLINE,
  }
}

/**
 * The session object an express-session store is given for a record; the inverse of {@link toRecord}. Its cookie
 * looks like express-session's: `originalMaxAge`, `expires` (a Date, or null) and a `maxAge` getter, the ms until
 * `expires` by `now` (memorystore and better-sqlite3-session-store set their TTL from it). The getter is not
 * enumerable, so it is never stored, as express-session's is not.
 */
export function toLegacy(record: SessionRecord, now: () => number = Date.now): LegacySession {
  const { attributes = { path: '/', httpOnly: true }, expires, originalMaxAge } = cookieOf(record)
  const cookie: Record<string, unknown> = { ...attributes, originalMaxAge, expires }
  Object.defineProperty(cookie, 'maxAge', {
    get: () => (expires === null ? null : expires.valueOf() - now()),
    enumerable: false,
    configurable: true,
  })
  const session: LegacySession = { cookie }
  for (const key of Object.keys(record.data)) {
    if (key === COOKIE_META || key === ENVELOPE) continue
    const value = parseStored(record.data[key]!)
    // Defined, not assigned: a data key named `__proto__` stays a plain own key.
    if (value !== undefined)
      Object.defineProperty(session, key, { value, enumerable: true, writable: true, configurable: true })
  }
  const { [COOKIE_META]: cookieJson, ...rest } = record.meta
  const expressShaped =
    record.userId === null &&
    record.absoluteExpiresAt >= NO_DEADLINE &&
    typeof cookieJson === 'string' &&
    Object.keys(rest).length === 0
  if (!expressShaped) {
    const { userId, meta, createdAt, lastSeenAt, absoluteExpiresAt } = record
    session[ENVELOPE] = { userId, meta, createdAt, lastSeenAt, absoluteExpiresAt }
  }
  return session
}

interface Envelope {
  userId: string | null
  meta: SessionMeta
  createdAt: number
  lastSeenAt: number
  absoluteExpiresAt: number
}

/** The envelope, only when it has exactly the shape `toLegacy` writes; anything else is ignored, never data. */
function envelope(value: unknown): Envelope | undefined {
  if (!isObject(value)) return undefined
  const { userId, meta, createdAt, lastSeenAt, absoluteExpiresAt } = value
  if (userId !== null && typeof userId !== 'string') return undefined
  if (!isObject(meta) || ![createdAt, lastSeenAt, absoluteExpiresAt].every(Number.isFinite)) return undefined
  const facts: SessionMeta = Object.create(null)
  for (const [name, fact] of Object.entries(meta)) if (isMetaValue(fact)) facts[name] = fact
  return { userId, meta: facts, createdAt, lastSeenAt, absoluteExpiresAt } as Envelope
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
