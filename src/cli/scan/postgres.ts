/** Reads the PostgreSQL sessions table (schema in `stores/postgres/sql.ts`), its name from the store's own helper. */
import type { PostgresQueryable } from '../../stores/postgres/index.ts'
import { toSession } from '../../stores/postgres/records.ts'
import { resolveTables } from '../../stores/postgres/sql.ts'
import type { Scanner } from './index.ts'
import { pageQuery, statsParams, statsQuery, toStats } from './sql.ts'

export function postgresScanner(pool: PostgresQueryable, tablePrefix: string): Scanner {
  const { sessions } = resolveTables({ tablePrefix })
  const p = (n: number) => `$${n}`
  return {
    async *pages(pageSize) {
      const text = pageQuery(sessions, p, 'meta::text')
      const now = Date.now()
      for (let after = ''; ; ) {
        const { rows } = await pool.query(text, [now, after, pageSize])
        if (rows.length > 0) yield rows.map((row) => ({ key: row.key as string, record: toSession(row) }))
        if (rows.length < pageSize) return
        after = rows.at(-1)!.key as string
      }
    },
    async stats() {
      const { rows } = await pool.query(statsQuery(sessions, p), statsParams(Date.now()))
      return toStats(rows[0])
    },
  }
}
