/** Rows of the SQLite store (see `sql.ts`) and the contract's records, both ways. */
import { parseData, parseMeta } from '../decoded.ts'
import type { CounterState, SessionRecord, TokenRecord } from '../types.ts'

// Rows as `node:sqlite` returns them: the times are numbers, never BigInt (readBigInts is off) nor null (NOT NULL).
export type SessionRow = {
  data: string
  user_id: string | null
  meta: string
  created_at: number
  last_seen_at: number
  expires_at: number
  absolute_expires_at: number
}
export type TokenRow = {
  user_id: string
  hash: string
  meta: string
  previous_hash: string | null
  created_at: number
  expires_at: number
  rotated_at: number | null
}
export type CounterRow = { count: number; reset_at: number }

/** The named parameters of a new session row. */
export function sessionParams(key: string, record: SessionRecord) {
  const { userId, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt } = record
  const texts = { data: JSON.stringify(record.data), meta: JSON.stringify(record.meta) }
  return { key, userId, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt, ...texts }
}

/** A row of `SessionRow`'s shape (the CLI's scans) as a record. */
export function toSession(row: SessionRow): SessionRecord {
  return {
    data: parseData(row.data),
    userId: row.user_id,
    meta: parseMeta(row.meta),
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
    absoluteExpiresAt: row.absolute_expires_at,
  }
}

/** The named parameters of a new token row. */
export function tokenParams(id: string, record: TokenRecord) {
  const { userId, hash, previousHash, createdAt, expiresAt, rotatedAt } = record
  return { id, userId, hash, meta: JSON.stringify(record.meta), previousHash, createdAt, expiresAt, rotatedAt }
}

export function toToken(row: TokenRow): TokenRecord {
  return {
    userId: row.user_id,
    hash: row.hash,
    meta: parseMeta(row.meta),
    previousHash: row.previous_hash,
    rotatedAt: row.rotated_at,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  }
}

export function toCounter(row: CounterRow): CounterState {
  return { count: row.count, resetAt: row.reset_at }
}
