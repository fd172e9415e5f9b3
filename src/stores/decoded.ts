/** Session rows of the SQL stores (SQLite and PostgreSQL) to the contract's records, reusing their last decoding. */
import { nullProto } from '../core/json.ts'
import type { SessionMeta, SessionRecord, StoredData } from './types.ts'

/**
 * A session row as both SQL stores' reads return it: an array, `data` and `meta` as JSON text, then the times, with
 * the key after them where a read returns several sessions. SQLite hands the times over as numbers; PostgreSQL as
 * text (or as whatever the pool's type parsers make of a bigint), which `Number` reads alike.
 */
export type SessionTuple = [
  data: string,
  userId: string | null,
  meta: string,
  createdAt: number | string,
  lastSeenAt: number | string,
  expiresAt: number | string,
  absoluteExpiresAt: number | string,
  key?: string,
]

/**
 * A `data` column as a null-prototype object of JSON texts: a key named `__proto__` or `constructor` is just a key.
 * A value that is not a string was written by hand (as JSON rather than as the JSON string of its text) and is taken
 * as its JSON.
 */
export function parseData(text: string): StoredData {
  const data: StoredData = nullProto<string>(JSON.parse(text))
  for (const name in data) if (typeof data[name] !== 'string') data[name] = JSON.stringify(data[name])
  return data
}

/** A `meta` column (of a session or a token), null-prototype like `data`. */
export const parseMeta = (text: string): SessionMeta => nullProto<SessionMeta[string]>(JSON.parse(text))

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
 * Every read still fetches the row from the database (another process may have changed or deleted it since); only
 * the JSON parse and the null-prototype copy of the same texts, most of a read's cost after the query, are not
 * redone. The reused objects are frozen: the engine only reads a record's data and meta, and copies them to change
 * them. At most `DECODED_MAX` sessions, the one decoded longest ago first out.
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
    return {
      data,
      userId,
      meta,
      createdAt: Number(createdAt),
      lastSeenAt: Number(lastSeenAt),
      expiresAt: Number(expiresAt),
      absoluteExpiresAt: Number(absoluteExpiresAt),
    }
  }

  /** Drops what was kept of `key` (a destroyed session's data should not outlive it here). */
  forget(key: string): void {
    this.#decoded.delete(key)
  }

  clear(): void {
    this.#decoded.clear()
  }
}
