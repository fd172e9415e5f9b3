import type { CounterState, SessionMeta, SessionRecord, StoredData, TokenRecord } from '../types.ts'

type Row = Record<string, unknown>

/** A session row (`data` and `meta` as jsonb text, see `statements`) as the contract's record. */
export function toSession(row: Row): SessionRecord {
  const data: StoredData = Object.create(null)
  for (const [name, value] of entries(row.data)) {
    // Values are JSON strings holding each key's text; anything else was written by hand and is taken as its JSON.
    data[name] = typeof value === 'string' ? value : JSON.stringify(value)
  }
  const meta: SessionMeta = Object.create(null)
  for (const [name, value] of entries(row.meta)) meta[name] = value as SessionMeta[string]
  return {
    data,
    userId: row.user_id as string | null,
    meta,
    createdAt: Number(row.created_at),
    lastSeenAt: Number(row.last_seen_at),
    expiresAt: Number(row.expires_at),
    absoluteExpiresAt: Number(row.absolute_expires_at),
  }
}

export function toToken(row: Row): TokenRecord {
  const { user_id, hash, created_at, expires_at } = row
  return {
    userId: user_id as string,
    hash: hash as string,
    createdAt: Number(created_at),
    expiresAt: Number(expires_at),
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

// JSON.parse defines every key as an own property, `__proto__` included, and the callers copy them into null-prototype
// objects by assignment, which on such an object defines `__proto__` and `constructor` as plain keys too.
function entries(json: unknown): [string, unknown][] {
  return Object.entries(JSON.parse(json as string) as Record<string, unknown>)
}
