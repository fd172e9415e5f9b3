import pg from 'pg'
import { migrate, postgresStore } from '../src/stores/postgres/index.ts'
import type { Backends } from './backends.ts'
import { checkFill, fillerKey, fillPostgres } from './fill.ts'
import type { Size, Sized } from './flat.ts'

// The PostgreSQL side of `flat.ts` (flat in store size): a small and a big store, one database each on the bench's
// server, each filled in bulk in the store's own row format.

/** The sessions table of the store's default prefix, as `fillPostgres` and the app's store name it. */
const TABLE = '"coatcheck_sessions"'
const DATABASES: Record<Size, string> = { small: 'flat_small', big: 'flat_big' }

/** `flat.ts`'s `Sized` for PostgreSQL: one database per size on the bench's server, each filled in bulk. */
export async function postgresSized(backends: Backends): Promise<Sized> {
  const server = backends.where('postgres')
  const url = (size: Size) => {
    const at = new URL(server)
    at.pathname = `/${DATABASES[size]}`
    return at.href
  }
  const admin = new pg.Pool({ connectionString: server, max: 1 })
  try {
    for (const name of Object.values(DATABASES)) await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end()
  }
  return {
    where: url,
    /** Creates the tables as the store does, then `count` sessions in the store's row format, then VACUUM ANALYZE. */
    async fill(size: Size, count: number) {
      const pool = new pg.Pool({ connectionString: url(size), max: 1 })
      try {
        await migrate(pool)
        await fillPostgres(pool, TABLE, 0, count)
        // What autovacuum would have done by then: hint bits and the visibility map set, statistics fresh.
        await pool.query(`VACUUM (ANALYZE) ${TABLE}`)
        const store = await postgresStore({ pool, createTables: false })
        await checkFill(store, count)
        await store.close()
      } finally {
        await pool.end()
      }
    },
    /** The read's plan and buffers on this size's table, for one of the filler sessions. */
    async explain(size: Size) {
      const pool = new pg.Pool({ connectionString: url(size), max: 1 })
      try {
        const key = fillerKey(0)
        const { rows } = await pool.query(
          `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF)
           SELECT data::text FROM ${TABLE} WHERE key = $1 AND expires_at > $2`,
          [key, Date.now()],
        )
        const sizes = await pool.query(
          `SELECT pg_size_pretty(pg_table_size('${TABLE}')) AS heap, pg_size_pretty(pg_indexes_size('${TABLE}')) AS indexes`,
        )
        const { heap, indexes } = sizes.rows[0] as { heap: string; indexes: string }
        return `table ${heap}, indexes ${indexes}: ${rows.map((r) => String(r['QUERY PLAN']).trim()).join('; ')}`
      } finally {
        await pool.end()
      }
    },
  }
}
