/** Reads the SQLite sessions table `<prefix>sessions` (schema in `stores/sqlite/sql.ts`) on the CLI's own connection. */
import type { DatabaseSync } from 'node:sqlite'
import { type SessionRow, toSession } from '../../stores/sqlite/records.ts'
import type { Scanner } from './index.ts'
import { pageQuery, statsParams, statsQuery, toStats } from './sql.ts'

/** `prefix` was validated by `sqliteStore()`, which opened the same file first. */
export function sqliteScanner(db: DatabaseSync, prefix: string): Scanner {
  const table = `${prefix}sessions`
  const p = (n: number) => `?${n}`
  return {
    async *pages(pageSize) {
      const page = db.prepare(pageQuery(table, p))
      const now = Date.now()
      for (let after = ''; ; ) {
        const rows = page.all(now, after, pageSize) as (SessionRow & { key: string })[]
        if (rows.length > 0) yield rows.map((row) => ({ key: row.key, record: toSession(row) }))
        if (rows.length < pageSize) return
        after = rows.at(-1)!.key
      }
    },
    async stats() {
      return toStats(db.prepare(statsQuery(table, p)).get(...statsParams(Date.now())))
    },
  }
}
