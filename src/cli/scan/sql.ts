/**
 * The two SQL reads the CLI adds to the SQLite and PostgreSQL backends, over the sessions table of their schema
 * (`stores/sqlite/sql.ts`, `stores/postgres/sql.ts`). `p(n)` is the dialect's placeholder for the n-th parameter.
 */
import { DAY, HOUR, type Stats, WEEK } from './stats.ts'

type Placeholder = (n: number) => string

/**
 * One page of live sessions by keyset pagination on the primary key: parameters now, the last key of the previous
 * page ('' first), the page size. `meta` is the column as JSON text; `data` is left out (an empty object).
 */
export function pageQuery(table: string, p: Placeholder, meta = 'meta'): string {
  return `SELECT key, user_id, '{}' AS data, ${meta} AS meta, created_at, last_seen_at, expires_at, absolute_expires_at
    FROM ${table} WHERE expires_at > ${p(1)} AND key > ${p(2)} ORDER BY key LIMIT ${p(3)}`
}

/** Counts of live sessions (see `Stats`), by one scan of the table: parameters from {@link statsParams}. */
export function statsQuery(table: string, p: Placeholder): string {
  return `SELECT count(*) AS sessions, count(user_id) AS logged_in, count(DISTINCT user_id) AS users,
      count(*) FILTER (WHERE created_at > ${p(2)}) AS under1h,
      count(*) FILTER (WHERE created_at <= ${p(2)} AND created_at > ${p(3)}) AS under1d,
      count(*) FILTER (WHERE created_at <= ${p(3)} AND created_at > ${p(4)}) AS under7d,
      count(*) FILTER (WHERE created_at <= ${p(4)}) AS older
    FROM ${table} WHERE expires_at > ${p(1)}`
}

export function statsParams(now: number): number[] {
  return [now, now - HOUR, now - DAY, now - WEEK]
}

/** A row of {@link statsQuery} (counts may come back as strings: PostgreSQL's bigint) as `Stats`. */
export function toStats(row: Record<string, unknown> | undefined): Stats {
  const n = (name: string) => Number(row?.[name] ?? 0)
  const sessions = n('sessions')
  const loggedIn = n('logged_in')
  return {
    sessions,
    loggedIn,
    anonymous: sessions - loggedIn,
    users: n('users'),
    age: { under1h: n('under1h'), under1d: n('under1d'), under7d: n('under7d'), older: n('older') },
  }
}
