import { CoatcheckError, invalidOption } from '../../errors.ts'
import { intOption, MAX_TIMER_DELAY } from '../../validate.ts'
import type { CoatcheckStore, CounterState } from '../types.ts'
import { stringified, toCounter, toSession, toToken } from './records.ts'
import { migration, resolveTables, type Statement, statements, type Tables } from './sql.ts'

/**
 * The slice of a `pg` Pool (or Client) the store uses. A Pool is what you want: it reconnects after the database
 * restarts, where a lone Client stays broken.
 */
export interface PostgresQueryable {
  /**
   * pg's `query`: SQL text and its values, or one `{ name, text, values }` object that runs as a named prepared
   * statement (see `preparedStatements`).
   */
  query(
    query: string | PostgresPreparedQuery,
    values?: unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>
  /** pg's EventEmitter side; used only to keep an idle-client error from crashing the process (see the factory). */
  on?(event: 'error', listener: (error: Error) => void): unknown
  listenerCount?(event: 'error'): number
}

/** The object form of pg's `query`: prepared once per connection under `name`, then run by name. */
export interface PostgresPreparedQuery {
  name: string
  text: string
  values: unknown[]
}

/** Where the tables live. Shared by {@link postgresStore} and {@link migrate}. */
export interface PostgresTableOptions {
  /** Prefix of the three table names. Lowercase letters, digits and `_`, not starting with a digit, at most 40 characters. Default `coatcheck_`. */
  tablePrefix?: string
  /** Schema of the tables, same rule (up to 63 characters). Default none: the connection's `search_path` decides. */
  schema?: string
}

/** Options of {@link postgresStore}. */
export interface PostgresStoreOptions extends PostgresTableOptions {
  /** A `pg` Pool (or anything with pg's `query(text, values)`). Required. The store never ends it. */
  pool: PostgresQueryable
  /**
   * Send every query as a named prepared statement (`query({ name, text, values })`), which each connection parses
   * and plans once instead of on every call. Set false when the pool takes only `query(text, values)`, or when
   * connections are shared between sessions by a pooler that does not track prepared statements (PgBouncer in
   * transaction mode before 1.21, or without `max_prepared_statements`). Default true.
   */
  preparedStatements?: boolean
  /**
   * Run {@link migrate} when the store starts. Set false where the app's role may not run DDL: the store then only
   * checks that the tables exist, and fails naming any that is missing. Default true.
   */
  createTables?: boolean
  /** How often expired sessions, tokens and counters are deleted, in ms. Positive integer up to 2³¹ − 1. Default 60 000. */
  pruneInterval?: number
}

/** What {@link postgresStore} resolves: a complete store whose `close()` stops the prune timer. */
export type PostgresStore = CoatcheckStore & { close(): Promise<void> }

/**
 * Creates the tables and indexes if they are missing. Idempotent, and safe to run from several instances at once:
 * everything runs as one multi-statement query, which PostgreSQL executes as one implicit transaction, serialized
 * by `pg_advisory_xact_lock` (so it needs no dedicated connection and leaves none in a transaction on failure).
 * Creates `schema` too when one is given. Needs the right to create tables; see `createTables`.
 */
export async function migrate(pool: PostgresQueryable, options: PostgresTableOptions = {}): Promise<void> {
  checkPool(pool)
  const t = resolveTables(options ?? {})
  await pool.query(migration(t))
}

/**
 * A store in PostgreSQL (≥ 13) through `pg`: for production with many app instances. Resolves once the tables are
 * ready: it runs {@link migrate} unless `createTables` is false, in which case it rejects with a `STORE_ERROR`
 * naming any missing table. Expired rows are deleted by one unref'd timer; a failing prune is ignored (the next
 * one retries) and never surfaces as an unhandled rejection. Query failures reject, and the session engine answers
 * them with 503. `close()` stops the timer and leaves the pool open.
 *
 * pg's Pool emits `'error'` when an idle connection dies (a database restart), and an EventEmitter without an
 * `'error'` listener throws, crashing the process. So when the pool has no `'error'` listener, the store adds one
 * that ignores these errors: the pool has already dropped the dead client, and the next query connects anew. The
 * listener stays for the pool's lifetime. An app that listens to the pool's `'error'` itself is left alone.
 *
 * ```ts
 * const store = await postgresStore({ pool: new pg.Pool({ connectionString }) })
 * ```
 */
export async function postgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const { pool, tables: t, createTables, pruneInterval, preparedStatements } = resolveOptions(options)
  if (createTables) await pool.query(migration(t))
  else await checkTables(pool, t)
  if (pool.on && pool.listenerCount?.('error') === 0) pool.on('error', ignoreIdleClientError)

  const q = statements(t)
  const send = preparedStatements
    ? ({ name, text }: Statement, values: unknown[]) => pool.query({ name, text, values })
    : ({ text }: Statement, values: unknown[]) => pool.query(text, values)
  const run = async (statement: Statement, values: unknown[]) => (await send(statement, values)).rows
  const changed = async (statement: Statement, values: unknown[]) => ((await send(statement, values)).rowCount ?? 0) > 0

  async function prune(): Promise<number> {
    const [row] = await run(q.prune, [Date.now()])
    return Number(row?.n ?? 0)
  }
  let pruning = false
  const timer = setInterval(() => {
    // One prune at a time; a failure (database down) is dropped here and retried on the next tick.
    if (pruning) return
    pruning = true
    prune()
      .catch(() => undefined)
      .finally(() => {
        pruning = false
      })
  }, pruneInterval)
  timer.unref()

  return {
    async get(key) {
      const [row] = await run(q.get, [key, Date.now()])
      return row && toSession(row)
    },
    async create(key, r) {
      const values = [key, r.userId, stringified(r.data), JSON.stringify(r.meta)]
      return changed(q.create, [...values, r.createdAt, r.lastSeenAt, r.expiresAt, r.absoluteExpiresAt, Date.now()])
    },
    async update(key, patch) {
      return changed(q.update, [
        key,
        Date.now(),
        patch.unset ?? [],
        stringified(patch.set ?? {}),
        patch.userId !== undefined,
        patch.userId ?? null,
        patch.meta === undefined ? null : JSON.stringify(patch.meta),
        patch.lastSeenAt ?? null,
        patch.expiresAt ?? null,
        patch.absoluteExpiresAt ?? null,
      ])
    },
    async touch(key, lastSeenAt, expiresAt) {
      return changed(q.touch, [key, Date.now(), lastSeenAt, expiresAt])
    },
    async destroy(key) {
      await send(q.destroy, [key])
    },
    async listByUser(userId) {
      const rows = await run(q.listByUser, [userId, Date.now()])
      return rows.map((row) => ({ key: row.key as string, record: toSession(row) }))
    },
    async destroyByUser(userId, exceptKey) {
      const [row] = await run(q.destroyByUser, [userId, exceptKey ?? null, Date.now()])
      return Number(row?.n ?? 0)
    },
    prune,
    tokens: {
      async create(id, r) {
        return changed(q.tokenCreate, [id, r.userId, r.hash, r.createdAt, r.expiresAt, Date.now()])
      },
      async get(id) {
        const [row] = await run(q.tokenGet, [id, Date.now()])
        return row && toToken(row)
      },
      async rotate(id, expectedHash, next) {
        return changed(q.tokenRotate, [id, expectedHash, Date.now(), next.hash, next.expiresAt])
      },
      async destroy(id) {
        await send(q.tokenDestroy, [id])
      },
      async destroyByUser(userId) {
        const [row] = await run(q.tokenDestroyByUser, [userId, Date.now()])
        return Number(row?.n ?? 0)
      },
    },
    counters: {
      async hit(key, windowMs): Promise<CounterState> {
        const [row] = await run(q.counterHit, [key, Date.now(), windowMs])
        return toCounter(row!)
      },
      async peek(key) {
        const [row] = await run(q.counterPeek, [key, Date.now()])
        return row && toCounter(row)
      },
      async reset(key) {
        await send(q.counterReset, [key])
      },
    },
    async close() {
      clearInterval(timer)
    },
  }
}

function ignoreIdleClientError(): void {}

async function checkTables(pool: PostgresQueryable, t: Tables): Promise<void> {
  const tables = [t.sessions, t.tokens, t.counters]
  const { rows } = await pool.query('SELECT to_regclass($1) AS a, to_regclass($2) AS b, to_regclass($3) AS c', tables)
  const found = [rows[0]?.a, rows[0]?.b, rows[0]?.c]
  const missing = tables.filter((_, i) => found[i] == null).map((name) => name.replaceAll('"', ''))
  if (missing.length === 0) return
  throw new CoatcheckError(
    'STORE_ERROR',
    `coatcheck: PostgreSQL table${missing.length > 1 ? 's' : ''} ${missing.join(', ')} missing; ` +
      'run `migrate(pool, { tablePrefix, schema })` once as a role that may create tables, ' +
      'or let the store create them with `createTables: true`',
  )
}

function checkPool(pool: unknown): asserts pool is PostgresQueryable {
  if (typeof (pool as PostgresQueryable | undefined)?.query !== 'function') {
    throw invalidOption('pool', 'must be a pg Pool (an object with a query(text, values) method)')
  }
}

function resolveOptions(options: PostgresStoreOptions | undefined) {
  const {
    pool,
    createTables = true,
    pruneInterval = 60_000,
    preparedStatements = true,
    ...where
  } = options ?? ({} as PostgresStoreOptions)
  checkPool(pool)
  const tables = resolveTables(where)
  if (typeof createTables !== 'boolean') throw invalidOption('createTables', 'must be a boolean')
  if (typeof preparedStatements !== 'boolean') throw invalidOption('preparedStatements', 'must be a boolean')
  return Object.freeze({
    pool,
    tables,
    createTables,
    pruneInterval: intOption('pruneInterval', pruneInterval, 60_000, { max: MAX_TIMER_DELAY }),
    preparedStatements,
  })
}
