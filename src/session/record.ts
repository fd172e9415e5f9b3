/**
 * The rules of a session record, as pure functions of the record, the clock and the options: what a new record holds,
 * whether a stored one has expired, and where its deadline moves on activity. The request lifecycle (`context.ts`)
 * and login (`auth/`) apply them; nothing here does I/O.
 */
import type { SessionMeta, SessionRecord, StoredData } from '../stores/types.ts'

/** The options these rules read. */
export interface RecordRules {
  readonly idleTimeout: number
  readonly absoluteTimeout: number
  readonly rolling: boolean
  readonly touchAfter: number
}

/** The times of a stored record the engine keeps while a request runs. */
export type Deadlines = Pick<SessionRecord, 'createdAt' | 'lastSeenAt' | 'expiresAt' | 'absoluteExpiresAt'>

/** What a new ID inherits from the session it replaces when it is the same session (`regenerate({ keep })`). */
export type Carried = Pick<SessionRecord, 'createdAt' | 'absoluteExpiresAt'>

/** Which deadline of `record` has passed at `now`, if any. The options cap what a store returned. */
export function expiryOf(record: SessionRecord, now: number, rules: RecordRules): 'idle' | 'absolute' | undefined {
  if (now >= Math.min(record.absoluteExpiresAt, record.createdAt + rules.absoluteTimeout)) return 'absolute'
  if (now >= Math.min(record.expiresAt, record.lastSeenAt + rules.idleTimeout)) return 'idle'
  return undefined
}

/**
 * A record created at `now`: a new session starts its absolute deadline now, a carried one (a new ID for the same
 * session) keeps its creation time and absolute deadline. The effective deadline is the idle one, capped.
 */
export function newRecord(
  rules: RecordRules,
  now: number,
  contents: { data: StoredData; userId: string | null; meta: SessionMeta },
  carried?: Carried,
): SessionRecord {
  const absoluteExpiresAt = carried?.absoluteExpiresAt ?? now + rules.absoluteTimeout
  return {
    data: contents.data,
    userId: contents.userId,
    meta: contents.meta,
    createdAt: carried?.createdAt ?? now,
    lastSeenAt: now,
    expiresAt: Math.min(now + rules.idleTimeout, absoluteExpiresAt),
    absoluteExpiresAt,
  }
}

/** True when activity at `now` should be written: `rolling` and `touchAfter` passed since the last write. */
export function touchDue(stored: Deadlines, now: number, rules: RecordRules): boolean {
  return rules.rolling && now - stored.lastSeenAt >= rules.touchAfter
}

/** The deadline after activity at `now`: slid by `idleTimeout` when rolling, never past the absolute deadline. */
export function slidDeadline(stored: Deadlines, now: number, rules: RecordRules): number {
  return rules.rolling ? Math.min(now + rules.idleTimeout, stored.absoluteExpiresAt) : stored.expiresAt
}

/** The cookie's Max-Age, in whole seconds (at least 1), for a record whose deadline is `expiresAt`. */
export function cookieMaxAge(expiresAt: number, now: number): number {
  return Math.max(1, Math.ceil((expiresAt - now) / 1000))
}
