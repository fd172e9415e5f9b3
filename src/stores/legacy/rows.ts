/**
 * What express-session stores' `all()` answers, read into `[id, session]` pairs. There is no standard shape, so the
 * common ones are read:
 * - an object map of id → session (express-session's MemoryStore), the session maybe as JSON text;
 * - an array of sessions, each with its ID added as `id` (connect-redis);
 * - an array of raw rows `{ sid | id | key | _id, sess | session | data }`, the session an object or JSON text
 *   (better-sqlite3-session-store's `{ sid, sess, expire }`, and rows of SQL and document stores alike).
 * Anything else fails closed with `STORE_UNSUPPORTED` (501): skipping an entry would make `destroyByUser` answer
 * success while sessions it never saw stay logged in. A session without an ID (connect-mongo's `all()`) is such an
 * entry.
 */
import { CoatcheckError } from '../../errors.ts'
import type { LegacySession } from './format.ts'

const ID_FIELDS = ['sid', 'id', 'key', '_id'] as const
const SESSION_FIELDS = ['sess', 'session', 'data'] as const

/** The sessions of an `all()` result, by ID. Throws `STORE_UNSUPPORTED` for an entry it cannot read. */
export function sessionsOf(all: unknown): [string, LegacySession][] {
  if (all === null || all === undefined) return []
  if (Array.isArray(all)) return all.map(entry)
  if (isObject(all)) return Object.keys(all).map((id) => [id, session(all[id], id)])
  throw unreadable(`an ${typeof all}`)
}

function entry(item: unknown, index: number): [string, LegacySession] {
  if (isObject(item)) {
    // A session (it has its cookie) carrying its ID: connect-redis adds `id`.
    if (isObject(item.cookie)) {
      const { id, ...rest } = item
      if (typeof id === 'string') return [id, rest]
    } else {
      const id = ID_FIELDS.map((field) => item[field]).find((value) => typeof value === 'string')
      const body = SESSION_FIELDS.map((field) => item[field]).find((value) => value !== undefined)
      if (typeof id === 'string' && body !== undefined) return [id, session(body, id)]
    }
  }
  throw unreadable(`entry ${index}, ${describe(item)}`)
}

/** A session object, or its JSON text, or a row holding one (a map's value may be either). */
function session(value: unknown, id: string): LegacySession {
  const parsed = parse(value, id)
  if (!isObject(parsed)) throw unreadable(`the session of ${JSON.stringify(id)}, ${describe(parsed)}`)
  if (isObject(parsed.cookie)) return parsed
  // A row: its body is the session when that has a cookie; otherwise this is a session without one.
  for (const field of SESSION_FIELDS) {
    let body: unknown
    try {
      body = parse(parsed[field], id)
    } catch {}
    if (isObject(body) && isObject(body.cookie)) return body
  }
  return parsed
}

function parse(value: unknown, id: string): unknown {
  if (typeof value !== 'string') return value
  try {
    return JSON.parse(value)
  } catch {
    throw unreadable(`the session of ${JSON.stringify(id)}, text that is not JSON`)
  }
}

function describe(value: unknown): string {
  if (isObject(value)) return `an object with keys ${Object.keys(value).slice(0, 5).join(', ') || '(none)'}`
  return Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`
}

function unreadable(what: string): CoatcheckError {
  return new CoatcheckError(
    'STORE_UNSUPPORTED',
    `coatcheck: this express-session store's all() answered what the adapter cannot read (${what}), so sessions ` +
      'cannot be listed or revoked by user; use a coatcheck store (sqlite, redis, postgres) for that',
    501,
  )
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
