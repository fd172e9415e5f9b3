/** How the Redis store lays records out in hashes (see the key layout in `index.ts`), and reads them back. */
import { nullProto } from '../../core/json.ts'
import { dataBytes } from '../size.ts'
import type { CounterState, SessionMeta, SessionRecord, StoredData, TokenRecord } from '../types.ts'

/** PEXPIREAT wants an integer; rounding up never ends a record before its deadline. */
export const deadline = (expiresAt: number) => String(Math.ceil(expiresAt))

/**
 * The score a logged-in session is listed under in its user's index: an upper bound of its deadline with room for
 * it to slide, as far again as it now lies ahead (about two idle timeouts from `now`), never past its absolute
 * deadline (which the engine never moves a deadline past). Touches and writes within that room leave the index
 * alone; the first past it lists the session further (see `UPDATE`). The room is bounded so that a session that idled
 * out stops being listed about one idle timeout later, not at its absolute deadline: a user who logs in often would
 * otherwise have every login of the last `absoluteTimeout` read on each listing and revocation.
 */
export function indexScore(record: Pick<SessionRecord, 'expiresAt' | 'absoluteExpiresAt'>, now: number): number {
  const room = Math.max(0, record.expiresAt - now)
  return Math.max(record.expiresAt, Math.min(record.absoluteExpiresAt, record.expiresAt + room))
}

/**
 * A session as HSET field/value pairs: `d:<name>` per data key, `z` (the data's size, kept by the update script), then
 * the metadata; no `userId` when it is null, and with one `i`, `score`: where its user's index lists it.
 */
export function sessionFields(record: SessionRecord, score: number): string[] {
  const fields = Object.entries(record.data).flatMap(([name, json]) => [`d:${name}`, json])
  fields.push('z', String(dataBytes(record.data)))
  if (record.userId !== null) fields.push('userId', record.userId, 'i', deadline(score))
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
