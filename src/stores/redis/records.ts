/** How the Redis store lays records out in hashes (see the key layout in `../redis.ts`), and reads them back. */
import type { CounterState, SessionMeta, SessionRecord, StoredData, TokenRecord } from '../types.ts'

/** PEXPIREAT wants an integer; rounding up never ends a record before its deadline. */
export const deadline = (expiresAt: number) => String(Math.ceil(expiresAt))

/** A session as HSET field/value pairs: `d:<name>` per data key, then the metadata; no `userId` when it is null. */
export function sessionFields(record: SessionRecord): string[] {
  const fields = Object.entries(record.data).flatMap(([name, json]) => [`d:${name}`, json])
  if (record.userId !== null) fields.push('userId', record.userId)
  fields.push('meta', JSON.stringify(record.meta), 'createdAt', String(record.createdAt))
  fields.push('lastSeenAt', String(record.lastSeenAt), 'expiresAt', String(record.expiresAt))
  fields.push('absoluteExpiresAt', String(record.absoluteExpiresAt))
  return fields
}

/** A session hash read back, or undefined when the hash is gone (Redis expired or deleted it). */
export function toSession(fields: [string, string][]): SessionRecord | undefined {
  if (fields.length === 0) return undefined
  // Null-prototype, so a data key named `__proto__` or `constructor` is just a key.
  const data = Object.create(null) as StoredData
  const record: SessionRecord = {
    data,
    userId: null,
    meta: {},
    createdAt: 0,
    lastSeenAt: 0,
    expiresAt: 0,
    absoluteExpiresAt: 0,
  }
  for (const [field, value] of fields) {
    if (field.startsWith('d:')) data[field.slice(2)] = value
    else if (field === 'userId') record.userId = value
    else if (field === 'meta') record.meta = JSON.parse(value) as SessionMeta
    else if (field === 'createdAt' || field === 'lastSeenAt' || field === 'expiresAt' || field === 'absoluteExpiresAt')
      record[field] = Number(value)
  }
  return record
}

/** A token hash read back, or undefined when it is gone. */
export function toToken(fields: [string, string][]): TokenRecord | undefined {
  if (fields.length === 0) return undefined
  const token = Object.fromEntries(fields)
  return {
    userId: token.userId ?? '',
    hash: token.hash ?? '',
    createdAt: Number(token.createdAt),
    expiresAt: Number(token.expiresAt),
  }
}

/** A `{ count, end of window }` script reply, or undefined for a nil reply (no window open). */
export function toCounter(reply: unknown): CounterState | undefined {
  if (!Array.isArray(reply)) return undefined
  return { count: Number(reply[0]), resetAt: Number(reply[1]) }
}
