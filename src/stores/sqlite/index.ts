import { setImmediate as turn } from 'node:timers/promises'
import { invalidOption } from '../../errors.ts'
import { identifierOption, intOption, knownKeys, MAX_TIMER_DELAY } from '../../validate.ts'
import { SessionDecoder, type SessionTuple } from '../decoded.ts'
import { withPeek } from '../peek.ts'
import { pruneLoop } from '../prune.ts'
import { patchedData } from '../size.ts'
import type { CoatcheckStore } from '../types.ts'
import { type CounterRow, sessionParams, type TokenRow, toCounter, tokenParams, toToken } from './records.ts'
import { open, statements } from './sql.ts'

/** Options of {@link sqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * The database file. Its directory is created (recursively) when missing; `':memory:'` keeps everything in this
   * connection (for tests). Required, a non-empty string.
   */
  path: string
  /**
   * Prefix of the table and index names, so sessions can share a database with the app. Lowercase letters, digits
   * and `_`, not starting with a digit, at most 40 characters (the rule of every backend). Default `coatcheck_`.
   */
  tablePrefix?: string
  /**
   * How long a write waits for another connection's lock (`PRAGMA busy_timeout`) before it fails, in ms. The wait
   * blocks this thread, as every `node:sqlite` call does. Integer from 0 to 2³¹ − 1. Default 1000: below the session
   * engine's `storeTimeout` (2000), so a lock held too long becomes a 503 rather than a stall.
   */
  busyTimeout?: number
  /**
   * How often expired sessions, tokens and counters are deleted, in ms, by one unref'd timer (see `prune.ts`).
   * Integer from 1 to 2³¹ − 1. Default 60 000 (one minute).
   */
  pruneInterval?: number
  /**
   * A quota: the database may grow to this many pages (`PRAGMA max_page_count`; a page is 4 KiB unless the file says
   * otherwise). Past it writes fail like on a full disk (`SQLITE_FULL`, a 503) while reads are still served. Positive
   * integer. Default none (SQLite's own limit).
   */
  maxPageCount?: number
}

const KNOWN = ['path', 'tablePrefix', 'busyTimeout', 'pruneInterval', 'maxPageCount']
/** Rows a prune deletes per transaction: a few ms of work, after which requests waiting on the event loop run. */
const PRUNE_BATCH = 200

/**
 * The embedded store: one SQLite file through `node:sqlite`, in WAL mode so readers never wait for the writer, shared
 * safely by every process that opens the same file. Expired rows are never returned and are deleted by one unref'd
 * timer. A file that cannot be opened fails here, naming the path and whether its folder is writable. Any SQLite error
 * later (locked past `busyTimeout`, read-only file, full disk) rejects the call, which the session engine answers with
 * a 503. `close()` stops the timer and closes the file; twice is fine.
 *
 * @example
 * ```ts
 * import { sqliteStore } from 'coatcheck/sqlite'
 * app.use(session({ secret, store: sqliteStore({ path: 'data/sessions.db' }) }))
 * ```
 */
export function sqliteStore(options: SqliteStoreOptions): CoatcheckStore & { close(): Promise<void> } {
  const { path, tablePrefix, busyTimeout, pruneInterval, maxPageCount } = resolveOptions(options)
  const db = open(path, { busyTimeout, maxPageCount, tablePrefix })
  const sql = statements(db, tablePrefix)
  const decoder = new SessionDecoder()

  /**
   * Runs `work` holding the write lock from the start (`BEGIN IMMEDIATE`): a read-modify-write never sees a row that
   * another process changes before the write, and two of them cannot deadlock upgrading their read locks.
   */
  function immediate<T>(work: () => T): T {
    db.exec('BEGIN IMMEDIATE')
    try {
      const result = work()
      db.exec('COMMIT')
      return result
    } catch (error) {
      // Some errors (SQLITE_FULL among them) may already have rolled the transaction back.
      if (db.isTransaction) db.exec('ROLLBACK')
      throw error
    }
  }

  /**
   * Deletes expired sessions, tokens and counters, `PRUNE_BATCH` rows per statement, with a turn of the event loop
   * after each full batch, so that a million sessions expiring at once do not hold every request for the seconds one
   * DELETE would take (the usual tick needs one batch of each, and no turn). Resolves the number of sessions deleted.
   */
  async function prune(): Promise<number> {
    const now = Date.now()
    let sessions = 0
    for (const statement of [sql.pruneTokens, sql.pruneCounters, sql.pruneSessions]) {
      for (;;) {
        const deleted = Number(statement.run({ now, limit: PRUNE_BATCH }).changes)
        if (statement === sql.pruneSessions) sessions += deleted
        if (deleted < PRUNE_BATCH) break
        await turn()
        if (!db.isOpen) return sessions // closed meanwhile: the rest is the next prune's
      }
    }
    return sessions
  }
  const stop = pruneLoop('sqliteStore()', prune, pruneInterval)
  const liveCount = (rows: unknown[], now: number) =>
    (rows as { expires_at: number }[]).filter((row) => row.expires_at > now).length

  /**
   * A live session's record. Also the engine's synchronous read (`withPeek`): `node:sqlite` blocks this thread anyway,
   * so the promise, the watchdog and the microtask hops of an async `get` would buy nothing; a read that throws is
   * reported by the engine as any failed store call (503, `store-error`), without a second read.
   */
  function read(key: string) {
    const row = sql.get.get(key, Date.now()) as SessionTuple | undefined
    return row && decoder.record(key, row)
  }

  return withPeek(read, {
    async get(key) {
      return read(key)
    },
    async create(key, record) {
      return sql.create.run({ ...sessionParams(key, record), now: Date.now() }).changes > 0
    },
    async update(key, patch) {
      return immediate(() => {
        const row = sql.get.get(key, Date.now()) as SessionTuple | undefined
        if (row === undefined) return false
        let [data, , meta, , lastSeenAt, expiresAt] = row
        if (patch.set || patch.unset) {
          // The decoding of the read this request just made, not a second parse of the same text.
          data = JSON.stringify(patchedData(decoder.record(key, row).data, patch))
        }
        if (patch.meta) meta = JSON.stringify(patch.meta)
        lastSeenAt = patch.lastSeenAt ?? lastSeenAt
        expiresAt = patch.expiresAt ?? expiresAt
        sql.write.run({ key, data, meta, lastSeenAt, expiresAt })
        return true
      })
    },
    async touch(key, lastSeenAt, expiresAt) {
      return sql.touch.run({ key, lastSeenAt, expiresAt, now: Date.now() }).changes > 0
    },
    async destroy(key) {
      const now = Date.now()
      decoder.forget(key)
      const row = sql.destroy.get({ key }) as { expires_at: number } | undefined
      return row !== undefined && row.expires_at > now
    },
    async listByUser(userId) {
      const rows = sql.listByUser.all({ userId, now: Date.now() }) as unknown as SessionTuple[]
      return rows.map((row) => ({ key: row[7]!, record: decoder.record(row[7]!, row) }))
    },
    async destroyByUser(userId, exceptKey) {
      const now = Date.now()
      const rows = sql.destroyByUser.all({ userId, exceptKey: exceptKey ?? null }) as { key: string }[]
      for (const row of rows) decoder.forget(row.key)
      return liveCount(rows, now)
    },
    async prune() {
      return prune()
    },
    tokens: {
      async create(id, record) {
        return sql.tokenCreate.run({ ...tokenParams(id, record), now: Date.now() }).changes > 0
      },
      async get(id) {
        const row = sql.tokenGet.get({ id, now: Date.now() }) as TokenRow | undefined
        return row && toToken(row)
      },
      async rotate(id, expectedHash, next) {
        const { hash, expiresAt, rotatedAt } = next
        const meta = next.meta === undefined ? null : JSON.stringify(next.meta)
        return sql.tokenRotate.run({ id, expectedHash, hash, expiresAt, rotatedAt, meta, now: Date.now() }).changes > 0
      },
      async destroy(id) {
        sql.tokenDestroy.run({ id })
      },
      async listByUser(userId) {
        const rows = sql.tokenListByUser.all({ userId, now: Date.now() }) as (TokenRow & { id: string })[]
        return rows.map((row) => ({ id: row.id, record: toToken(row) }))
      },
      async destroyByUser(userId) {
        const now = Date.now()
        return liveCount(sql.tokenDestroyByUser.all({ userId }), now)
      },
    },
    counters: {
      async hit(key, windowMs) {
        const now = Date.now()
        return toCounter(sql.hit.get({ key, now, resetAt: now + windowMs }) as CounterRow)
      },
      async peek(key) {
        const row = sql.peek.get({ key, now: Date.now() }) as CounterRow | undefined
        return row && toCounter(row)
      },
      async reset(key) {
        sql.counterReset.run({ key })
      },
    },
    async close() {
      stop()
      decoder.clear()
      if (db.isOpen) db.close()
    },
  })
}

function resolveOptions(options: SqliteStoreOptions) {
  if (typeof options === 'string') {
    throw invalidOption('options', `of sqliteStore() takes \`{ path }\`: sqliteStore({ path: '${options}' })`)
  }
  knownKeys('sqliteStore()', options, KNOWN)
  const { path } = options ?? {}
  if (typeof path !== 'string' || path === '') throw invalidOption('path', 'must be a non-empty string (a file path)')
  return Object.freeze({
    path,
    tablePrefix: identifierOption('tablePrefix', options.tablePrefix, 'coatcheck_', 40)!,
    busyTimeout: intOption('busyTimeout', options.busyTimeout, 1_000, { min: 0, max: MAX_TIMER_DELAY }),
    pruneInterval: intOption('pruneInterval', options.pruneInterval, 60_000, { max: MAX_TIMER_DELAY }),
    maxPageCount: options.maxPageCount === undefined ? undefined : intOption('maxPageCount', options.maxPageCount, 0),
  })
}
