/** How the Redis store lays records out in hashes (see the key layout in `index.ts`), and reads them back. */
import { nullProto } from '../../core/json.ts'
import { dataBytes } from '../size.ts'
import type { CounterState, SessionMeta, SessionRecord, StoredData, TokenRecord } from '../types.ts'

/** PEXPIREAT wants an integer; rounding up never ends a record before its deadline. */
export const deadline = (expiresAt: number) => String(Math.ceil(expiresAt))

/**
 * The score a logged-in session is listed under in its user's index: its absolute deadline, which no touch or write
 * moves its deadline past (the engine caps it there), so the index needs writing once, at create, and never again on
 * the hot path. A deadline beyond it (a record the engine did not make) is listed under that deadline instead.
 */
export const indexScore = (record: Pick<SessionRecord, 'expiresAt' | 'absoluteExpiresAt'>) =>
  Math.max(record.expiresAt, record.absoluteExpiresAt)

/**
 * A session as HSET field/value pairs: `d:<name>` per data key, `z` (the data's size, kept by the update script), then
 * the metadata; no `userId` when it is null, and with one `i`, the score its user's index holds.
 */
export function sessionFields(record: SessionRecord): string[] {
  const fields = Object.entries(record.data).flatMap(([name, json]) => [`d:${name}`, json])
  fields.push('z', String(dataBytes(record.data)))
  if (record.userId !== null) fields.push('userId', record.userId, 'i', deadline(indexScore(record)))
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
    else if (field === 'meta') record.meta = nullProto<SessionMeta[string]>(JSON.parse(value))
    else if (field === 'createdAt' || field === 'lastSeenAt' || field === 'expiresAt' || field === 'absoluteExpiresAt')
      record[field] = Number(value)
  }
  return record
}

/** A token as HSET field/value pairs; no `previousHash` nor `rotatedAt` while they are null. */
export function tokenFields(record: TokenRecord): string[] {
  const fields = ['userId', record.userId, 'hash', record.hash, 'meta', JSON.stringify(record.meta)]
  fields.push('createdAt', String(record.createdAt), 'expiresAt', String(record.expiresAt))
  if (record.previousHash !== null) fields.push('previousHash', record.previousHash)
  if (record.rotatedAt !== null) fields.push('rotatedAt', String(record.rotatedAt))
  return fields
}

/**
 * A token hash read back, or undefined when it is gone. A hash written before tokens had `meta` reads as one with
 * empty meta, never rotated.
 */
export function toToken(fields: [string, string][]): TokenRecord | undefined {
  if (fields.length === 0) return undefined
  const token = new Map(fields)
  const meta = token.get('meta')
  const rotatedAt = token.get('rotatedAt')
  return {
    userId: token.get('userId') ?? '',
    hash: token.get('hash') ?? '',
    meta: nullProto<SessionMeta[string]>(meta === undefined ? {} : JSON.parse(meta)),
    previousHash: token.get('previousHash') ?? null,
    rotatedAt: rotatedAt === undefined ? null : Number(rotatedAt),
    createdAt: Number(token.get('createdAt')),
    expiresAt: Number(token.get('expiresAt')),
  }
}

/** A `{ count, end of window }` script reply, or undefined for a nil reply (no window open). */
export function toCounter(reply: unknown): CounterState | undefined {
  if (!Array.isArray(reply)) return undefined
  return { count: Number(reply[0]), resetAt: Number(reply[1]) }
}
