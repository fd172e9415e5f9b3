import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { invalidOption } from '../../errors.ts'
import { intOption, MAX_TIMER_DELAY } from '../../validate.ts'
import type { CoatcheckStore, SessionMeta, SessionRecord, StoredData } from '../types.ts'

/** Options of {@link sqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * The database file. Its directory is created (recursively) when missing; `':memory:'` keeps everything in this
   * connection (for tests). Required, a non-empty string.
   */
  path: string
  /**
   * Prefix of the table and index names, so sessions can share a database with the app. Must match
   * `/^[A-Za-z_][A-Za-z0-9_]*$/`. Default `coatcheck_`.
   */
  tablePrefix?: string
  /**
   * How long a write waits for another connection's lock (`PRAGMA busy_timeout`) before it fails, in ms. The wait
   * blocks this thread, as every `node:sqlite` call does. Integer from 0 to 2³¹ − 1. Default 1000: below the session
   * engine's `storeTimeout` (2000), so a lock held too long becomes a 503 rather than a stall.
   */
  busyTimeout?: number
  /**
   * How often expired sessions, tokens and counters are deleted, in ms, by one unref'd timer. Integer from 1 to
   * 2³¹ − 1. Default 60 000 (one minute).
   */
  pruneInterval?: number
  /**
   * A quota: the database may grow to this many pages (`PRAGMA max_page_count`; a page is 4 KiB unless the file says
   * otherwise). Past it writes fail like on a full disk (`SQLITE_FULL`, a 503) while reads are still served. Positive
   * integer. Default none (SQLite's own limit).
   */
  maxPageCount?: number
}

const COLUMNS = 'data, user_id, meta, created_at, last_seen_at, expires_at, absolute_expires_at'

/**
 * The embedded default store: one SQLite file through `node:sqlite`, in WAL mode so readers never wait for the
 * writer, shared safely by every process that opens the same file. Expired rows are never returned and are deleted
 * by one unref'd timer. Any SQLite error (locked past `busyTimeout`, read-only file, full disk) rejects the call,
 * which the session engine answers with a 503. `close()` stops the timer and closes the file; twice is fine.
 */
export function sqliteStore(options: SqliteStoreOptions): CoatcheckStore & { close(): Promise<void> } {
  const { path, tablePrefix, busyTimeout, pruneInterval, maxPageCount } = resolveOptions(options)
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const db = new DatabaseSync(path)
  const sessions = `${tablePrefix}sessions`
  const tokens = `${tablePrefix}tokens`
  const counters = `${tablePrefix}counters`
  try {
    // The lock wait comes first: another process may be switching the file to WAL or creating the tables right now.
    db.exec(`PRAGMA busy_timeout = ${busyTimeout}`)
    db.exec('PRAGMA journal_mode = WAL')
    db.exec('PRAGMA synchronous = NORMAL')
    if (maxPageCount !== undefined) db.exec(`PRAGMA max_page_count = ${maxPageCount}`)
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${sessions} (
        key TEXT PRIMARY KEY, user_id TEXT, data TEXT NOT NULL, meta TEXT NOT NULL, created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, absolute_expires_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS ${sessions}_user_id ON ${sessions} (user_id);
      CREATE INDEX IF NOT EXISTS ${sessions}_expires_at ON ${sessions} (expires_at);
      CREATE TABLE IF NOT EXISTS ${tokens} (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL, hash TEXT NOT NULL, created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS ${tokens}_user_id ON ${tokens} (user_id);
      CREATE TABLE IF NOT EXISTS ${counters} (key TEXT PRIMARY KEY, count INTEGER NOT NULL, reset_at INTEGER NOT NULL);
    `)
  } catch (error) {
    db.close()
    throw error
  }

  const sql = {
    get: db.prepare(`SELECT ${COLUMNS} FROM ${sessions} WHERE key = $key AND expires_at > $now`),
    // Replaces a row only when it has expired: a live key is left alone and reports no change.
    create: db.prepare(`
      INSERT INTO ${sessions} (key, ${COLUMNS})
      VALUES ($key, $data, $userId, $meta, $createdAt, $lastSeenAt, $expiresAt, $absoluteExpiresAt)
      ON CONFLICT (key) DO UPDATE SET data = excluded.data, user_id = excluded.user_id, meta = excluded.meta,
        created_at = excluded.created_at, last_seen_at = excluded.last_seen_at, expires_at = excluded.expires_at,
        absolute_expires_at = excluded.absolute_expires_at
      WHERE ${sessions}.expires_at <= $now`),
    write: db.prepare(`
      UPDATE ${sessions} SET data = $data, user_id = $userId, meta = $meta, last_seen_at = $lastSeenAt,
        expires_at = $expiresAt, absolute_expires_at = $absoluteExpiresAt
      WHERE key = $key`),
    touch: db.prepare(`
      UPDATE ${sessions} SET last_seen_at = $lastSeenAt, expires_at = $expiresAt WHERE key = $key AND expires_at > $now`),
    destroy: db.prepare(`DELETE FROM ${sessions} WHERE key = $key`),
    listByUser: db.prepare(`SELECT key, ${COLUMNS} FROM ${sessions} WHERE user_id = $userId AND expires_at > $now`),
    destroyByUser: db.prepare(
      `DELETE FROM ${sessions} WHERE user_id = $userId AND key IS NOT $exceptKey RETURNING expires_at`,
    ),
    pruneSessions: db.prepare(`DELETE FROM ${sessions} WHERE expires_at <= $now`),
    pruneTokens: db.prepare(`DELETE FROM ${tokens} WHERE expires_at <= $now`),
    pruneCounters: db.prepare(`DELETE FROM ${counters} WHERE reset_at <= $now`),
    tokenCreate: db.prepare(`
      INSERT INTO ${tokens} (id, user_id, hash, created_at, expires_at)
      VALUES ($id, $userId, $hash, $createdAt, $expiresAt)
      ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, hash = excluded.hash,
        created_at = excluded.created_at, expires_at = excluded.expires_at
      WHERE ${tokens}.expires_at <= $now`),
    tokenGet: db.prepare(
      `SELECT user_id, hash, created_at, expires_at FROM ${tokens} WHERE id = $id AND expires_at > $now`,
    ),
    tokenRotate: db.prepare(`
      UPDATE ${tokens} SET hash = $hash, expires_at = $expiresAt
      WHERE id = $id AND hash = $expectedHash AND expires_at > $now`),
    tokenDestroy: db.prepare(`DELETE FROM ${tokens} WHERE id = $id`),
    tokenDestroyByUser: db.prepare(`DELETE FROM ${tokens} WHERE user_id = $userId RETURNING expires_at`),
    // The first hit of a window, or the first after it ended, opens a new one; later hits never move its end.
    hit: db.prepare(`
      INSERT INTO ${counters} (key, count, reset_at) VALUES ($key, 1, $resetAt)
      ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN ${counters}.reset_at <= $now THEN 1 ELSE ${counters}.count + 1 END,
        reset_at = CASE WHEN ${counters}.reset_at <= $now THEN excluded.reset_at ELSE ${counters}.reset_at END
      RETURNING count, reset_at`),
    peek: db.prepare(`SELECT count, reset_at FROM ${counters} WHERE key = $key AND reset_at > $now`),
    counterReset: db.prepare(`DELETE FROM ${counters} WHERE key = $key`),
  }

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

  function prune(): number {
    const now = Date.now()
    return immediate(() => {
      sql.pruneTokens.run({ now })
      sql.pruneCounters.run({ now })
      return Number(sql.pruneSessions.run({ now }).changes)
    })
  }

  const timer = setInterval(() => {
    try {
      prune()
    } catch {
      // A locked, read-only or full database must not take the process down; the next request reports it as a 503.
    }
  }, pruneInterval)
  timer.unref()

  return {
    async get(key) {
      const row = sql.get.get({ key, now: Date.now() }) as SessionRow | undefined
      return row && toSession(row)
    },
    async create(key, record) {
      const { data, userId, meta, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt } = record
      const params = { key, userId, createdAt, lastSeenAt, expiresAt, absoluteExpiresAt, now: Date.now() }
      return sql.create.run({ ...params, data: JSON.stringify(data), meta: JSON.stringify(meta) }).changes > 0
    },
    async update(key, patch) {
      return immediate(() => {
        const row = sql.get.get({ key, now: Date.now() }) as SessionRow | undefined
        if (row === undefined) return false
        let data = row.data
        if (patch.set || patch.unset) {
          const parsed = parseObject<StoredData>(data)
          for (const name of patch.unset ?? []) delete parsed[name]
          // `parsed` has no prototype, so even a `__proto__` key is assigned as a plain own property.
          if (patch.set) Object.assign(parsed, patch.set)
          data = JSON.stringify(parsed)
        }
        sql.write.run({
          key,
          data,
          userId: patch.userId === undefined ? row.user_id : patch.userId,
          meta: patch.meta ? JSON.stringify(patch.meta) : row.meta,
          lastSeenAt: patch.lastSeenAt ?? row.last_seen_at,
          expiresAt: patch.expiresAt ?? row.expires_at,
          absoluteExpiresAt: patch.absoluteExpiresAt ?? row.absolute_expires_at,
        })
        return true
      })
    },
    async touch(key, lastSeenAt, expiresAt) {
      return sql.touch.run({ key, lastSeenAt, expiresAt, now: Date.now() }).changes > 0
    },
    async destroy(key) {
      sql.destroy.run({ key })
    },
    async listByUser(userId) {
      const rows = sql.listByUser.all({ userId, now: Date.now() }) as (SessionRow & { key: string })[]
      return rows.map((row) => ({ key: row.key, record: toSession(row) }))
    },
    async destroyByUser(userId, exceptKey) {
      const now = Date.now()
      const removed = sql.destroyByUser.all({ userId, exceptKey: exceptKey ?? null }) as { expires_at: number }[]
      return removed.filter((row) => row.expires_at > now).length
    },
    async prune() {
      return prune()
    },
    tokens: {
      async create(id, { userId, hash, createdAt, expiresAt }) {
        return sql.tokenCreate.run({ id, userId, hash, createdAt, expiresAt, now: Date.now() }).changes > 0
      },
      async get(id) {
        const row = sql.tokenGet.get({ id, now: Date.now() }) as TokenRow | undefined
        return row && { userId: row.user_id, hash: row.hash, createdAt: row.created_at, expiresAt: row.expires_at }
      },
      async rotate(id, expectedHash, next) {
        const params = { id, expectedHash, hash: next.hash, expiresAt: next.expiresAt, now: Date.now() }
        return sql.tokenRotate.run(params).changes > 0
      },
      async destroy(id) {
        sql.tokenDestroy.run({ id })
      },
      async destroyByUser(userId) {
        const now = Date.now()
        const removed = sql.tokenDestroyByUser.all({ userId }) as { expires_at: number }[]
        return removed.filter((row) => row.expires_at > now).length
      },
    },
    counters: {
      async hit(key, windowMs) {
        const now = Date.now()
        const row = sql.hit.get({ key, now, resetAt: now + windowMs }) as CounterRow
        return { count: row.count, resetAt: row.reset_at }
      },
      async peek(key) {
        const row = sql.peek.get({ key, now: Date.now() }) as CounterRow | undefined
        return row && { count: row.count, resetAt: row.reset_at }
      },
      async reset(key) {
        sql.counterReset.run({ key })
      },
    },
    async close() {
      clearInterval(timer)
      if (db.isOpen) db.close()
    },
  }
}

// Rows as `node:sqlite` returns them: the times are numbers, never BigInt (readBigInts is off) nor null (NOT NULL).
type SessionRow = {
  data: string
  user_id: string | null
  meta: string
  created_at: number
  last_seen_at: number
  expires_at: number
  absolute_expires_at: number
}
type TokenRow = { user_id: string; hash: string; created_at: number; expires_at: number }
type CounterRow = { count: number; reset_at: number }

function toSession(row: SessionRow): SessionRecord {
  return {
    data: parseObject<StoredData>(row.data),
    userId: row.user_id,
    meta: parseObject<SessionMeta>(row.meta),
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
    absoluteExpiresAt: row.absolute_expires_at,
  }
}

/**
 * A stored JSON object as a null-prototype object. `JSON.parse` makes a `__proto__` key an own property; copying it
 * key by key into an object without a prototype keeps it one (no setter to hit), so it can never become a prototype.
 */
function parseObject<T extends object>(text: string): T {
  const parsed = JSON.parse(text) as Record<string, unknown>
  const object = Object.create(null) as Record<string, unknown>
  for (const key of Object.keys(parsed)) object[key] = parsed[key]
  return object as T
}

function resolveOptions(options: SqliteStoreOptions) {
  const { path, tablePrefix = 'coatcheck_' } = options ?? {}
  if (typeof path !== 'string' || path === '') throw invalidOption('path', 'must be a non-empty string (a file path)')
  if (typeof tablePrefix !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(tablePrefix)) {
    throw invalidOption('tablePrefix', 'must match /^[A-Za-z_][A-Za-z0-9_]*$/')
  }
  const busyTimeout = intOption('busyTimeout', options?.busyTimeout, 1_000, { min: 0, max: MAX_TIMER_DELAY })
  const pruneInterval = intOption('pruneInterval', options?.pruneInterval, 60_000, { max: MAX_TIMER_DELAY })
  const maxPageCount =
    options?.maxPageCount === undefined ? undefined : intOption('maxPageCount', options.maxPageCount, 0)
  return Object.freeze({ path, tablePrefix, busyTimeout, pruneInterval, maxPageCount })
}
