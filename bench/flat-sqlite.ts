import { DatabaseSync } from 'node:sqlite'
import { sqliteStore } from '../src/stores/sqlite/index.ts'
import type { Backends } from './backends.ts'
import { checkFill, PER_USER, record } from './fill.ts'
import type { Size, Sized } from './flat.ts'

// The SQLite side of `flat.ts` (flat in store size): a small and a big store file, each filled in bulk in the store's
// own row format.

/** The store's default prefix, as the app's `sqliteStore({ path })` names its tables. */
const TABLE = 'coatcheck_sessions'
/** Rows per INSERT of the fill: one transaction each, so the WAL is checkpointed as it goes. */
const FILL_BATCH = 100_000

/**
 * Inserts sessions `from` to `to - 1` into the store's table in its row format (`src/stores/sqlite/records.ts`): the
 * keys and users of `fill.ts` (`fillerKey`, `fillerUser`), the data of `record()` with the row's own user, generated
 * in SQL by a recursive CTE.
 */
function fillSqlite(db: DatabaseSync, from: number, to: number): void {
  const r = record('template')
  const insert = db.prepare(
    `WITH RECURSIVE g(i) AS (SELECT CAST($from AS INTEGER) UNION ALL SELECT i + 1 FROM g WHERE i + 1 < $to),
       owner(i, u) AS (SELECT i, 'user' || (i / ${PER_USER}) FROM g)
     INSERT INTO ${TABLE} (key, data, user_id, meta, created_at, last_seen_at, expires_at, absolute_expires_at)
     SELECT printf('%064x', i), json_set($data, '$.user', '"' || u || '"'), u, $meta, $at, $at, $expiresAt, $absolute
     FROM owner`,
  )
  const params = {
    data: JSON.stringify(r.data),
    meta: JSON.stringify(r.meta),
    at: r.createdAt,
    expiresAt: r.expiresAt,
    absolute: r.absoluteExpiresAt,
  }
  for (let start = from; start < to; start += FILL_BATCH) {
    insert.run({ ...params, from: start, to: Math.min(to, start + FILL_BATCH) })
  }
}

/** `flat.ts`'s `Sized` for SQLite: one file per size in the bench's directory, each filled in bulk. */
export async function sqliteSized(backends: Backends): Promise<Sized> {
  const path = (size: Size) => backends.where('sqlite', `flat-${size}`)
  return {
    where: path,
    /** Creates the file as the store does, then `count` sessions in the store's row format, checkpointed. */
    async fill(size: Size, count: number) {
      await sqliteStore({ path: path(size) }).close()
      const db = new DatabaseSync(path(size))
      try {
        fillSqlite(db, 0, count)
        // A file that has been running a while: the fill's pages are in the database file, the WAL is empty.
        db.exec('PRAGMA wal_checkpoint(TRUNCATE)')
      } finally {
        db.close()
      }
      const store = sqliteStore({ path: path(size) })
      try {
        await checkFill(store, count)
      } finally {
        await store.close()
      }
    },
    /** The read's query plan and the file's size in pages on this size's file. */
    explain(size: Size) {
      const db = new DatabaseSync(path(size), { readOnly: true })
      try {
        const plan = db
          .prepare(`EXPLAIN QUERY PLAN SELECT data FROM ${TABLE} WHERE key = ? AND expires_at > ?`)
          .all('0', Date.now())
          .map((row) => String(row.detail))
        const pages = Number(db.prepare('PRAGMA page_count').get()!.page_count)
        return `${pages} pages: ${plan.join('; ')}`
      } finally {
        db.close()
      }
    },
  }
}
