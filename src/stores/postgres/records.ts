import { nullProto } from '../../core/json.ts'
import type { CounterState, SessionMeta, SessionRecord, StoredData, TokenRecord } from '../types.ts'

type Row = Record<string, unknown>

/** A session row of separate columns, `data` and `meta` as jsonb text (the CLI's scan selects these), as a record. */
export function toSession(row: Row): SessionRecord {
  return {
    data: toData(JSON.parse(row.data as string)),
    userId: row.user_id as string | null,
    meta: nullProto<SessionMeta[string]>(JSON.parse(row.meta as string)),
    createdAt: Number(row.created_at),
    lastSeenAt: Number(row.last_seen_at),
    expiresAt: Number(row.expires_at),
    absoluteExpiresAt: Number(row.absolute_expires_at),
  }
}

/**
 * A session read as the one text column `statements` select: the JSON array
 * `[user_id, created_at, last_seen_at, expires_at, absolute_expires_at, meta, data]`.
 */
export function unpackSession(text: string): SessionRecord {
  const [userId, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt, meta, data] = JSON.parse(text)
  return {
    data: toData(data),
    userId,
    meta: nullProto<SessionMeta[string]>(meta),
    createdAt,
    lastSeenAt,
    expiresAt,
    absoluteExpiresAt,
  }
}

/** The parsed `data` column as the contract's data, a null-prototype object of JSON texts. */
function toData(parsed: unknown): StoredData {
  const data: StoredData = nullProto<string>(parsed)
  for (const name in data) {
    // Values are JSON strings holding each key's text; anything else was written by hand and is taken as its JSON.
    if (typeof data[name] !== 'string') data[name] = JSON.stringify(data[name])
  }
  return data
}

/** A token row (`meta` as jsonb text) as the contract's record. */
export function toToken(row: Row): TokenRecord {
  return {
    userId: row.user_id as string,
    hash: row.hash as string,
    meta: nullProto<SessionMeta[string]>(JSON.parse(row.meta as string)),
    previousHash: row.previous_hash as string | null,
    rotatedAt: row.rotated_at === null ? null : Number(row.rotated_at),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  }
}

export function toCounter(row: Row): CounterState {
  return { count: Number(row.count), resetAt: Number(row.reset_at) }
}

/** A jsonb object whose values are the texts as JSON strings (see `migration`). */
export function stringified(data: StoredData): string {
  // JSON.stringify writes an own `__proto__` key like any other.
  return JSON.stringify(data)
}
