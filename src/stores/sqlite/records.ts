/** Rows of the SQLite store (see `sql.ts`) and the contract's records, both ways. */
import { nullProto } from '../../core/json.ts'
import type { CounterState, SessionMeta, SessionRecord, StoredData, TokenRecord } from '../types.ts'

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
/**
 * A session row as the store's own reads return it: an array in the order of `sql.ts`'s `COLUMNS`, with the key after
 * them in `listByUser`'s. Arrays, because `node:sqlite` builds a row object with a dictionary of the column names for
 * every row, which costs more than the query.
 */
export type SessionTuple = [
  data: string,
  userId: string | null,
  meta: string,
  createdAt: number,
  lastSeenAt: number,
  expiresAt: number,
  absoluteExpiresAt: number,
  key?: string,
]
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

/** The `data` column as a null-prototype object: a key named `__proto__` or `constructor` is just a key. */
export function parseData(text: string): StoredData {
  return nullProto<string>(JSON.parse(text))
}

/** A `meta` column (of a session or a token), null-prototype like `data`. */
const parseMeta = (text: string): SessionMeta => nullProto<SessionMeta[string]>(JSON.parse(text))

/** How many sessions' decoded `data` and `meta` a store keeps for its next reads of them. */
const DECODED_MAX = 1000

interface Decoding {
  dataText: string
  data: StoredData
  metaText: string
  meta: SessionMeta
}

/**
 * Session rows to records, reusing the last decoding of a session whose `data` and `meta` texts have not changed.
 * Every read still fetches the row from the file (another process may have changed or deleted it since); only the
 * JSON parse and the null-prototype copy of the same texts, most of a read's cost after the query, are not redone.
 * The reused objects are frozen: the engine only reads a record's data and meta, and copies them to change them.
 * At most `DECODED_MAX` sessions, the one decoded longest ago first out.
 */
export class SessionDecoder {
  #decoded = new Map<string, Decoding>()

  record(key: string, row: SessionTuple): SessionRecord {
    const [dataText, userId, metaText, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt] = row
    let decoded = this.#decoded.get(key)
    if (decoded === undefined || decoded.dataText !== dataText || decoded.metaText !== metaText) {
      if (decoded === undefined && this.#decoded.size >= DECODED_MAX) {
        this.#decoded.delete(this.#decoded.keys().next().value!)
      }
      const data = Object.freeze(parseData(dataText))
      const meta = Object.freeze(parseMeta(metaText))
      decoded = { dataText, data, metaText, meta }
      this.#decoded.delete(key) // a session decoded again goes to the back of the line
      this.#decoded.set(key, decoded)
    }
    const { data, meta } = decoded
    return { data, userId, meta, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt }
  }

  /** Drops what was kept of `key` (a destroyed session's data should not outlive it here). */
  forget(key: string): void {
    this.#decoded.delete(key)
  }

  clear(): void {
    this.#decoded.clear()
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
