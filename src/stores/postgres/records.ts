import { parseData, parseMeta } from '../decoded.ts'
import type { CounterState, SessionRecord, StoredData, TokenRecord } from '../types.ts'

type Row = Record<string, unknown>

/** A session row of separate columns, `data` and `meta` as jsonb text (the CLI's scan selects these), as a record. */
export function toSession(row: Row): SessionRecord {
  return {
    data: parseData(row.data as string),
    userId: row.user_id as string | null,
    meta: parseMeta(row.meta as string),
    createdAt: Number(row.created_at),
    lastSeenAt: Number(row.last_seen_at),
    expiresAt: Number(row.expires_at),
    absoluteExpiresAt: Number(row.absolute_expires_at),
  }
}

/**
 * A token row, in the order of the statements' token columns
 * (`id, user_id, hash, meta::text, previous_hash, created_at, expires_at, rotated_at`), as the contract's record.
 */
export function toToken(row: unknown[]): TokenRecord {
  const [, userId, hash, meta, previousHash, createdAt, expiresAt, rotatedAt] = row
  return {
    userId: userId as string,
    hash: hash as string,
    meta: parseMeta(meta as string),
    previousHash: previousHash as string | null,
    rotatedAt: rotatedAt === null ? null : Number(rotatedAt),
    createdAt: Number(createdAt),
    expiresAt: Number(expiresAt),
  }
}

/** A counter row, `count, reset_at`. */
export function toCounter(row: unknown[]): CounterState {
  return { count: Number(row[0]), resetAt: Number(row[1]) }
}

/** A jsonb object whose values are the texts as JSON strings (see `migration`). */
export function stringified(data: StoredData): string {
  // JSON.stringify writes an own `__proto__` key like any other.
  return JSON.stringify(data)
}
