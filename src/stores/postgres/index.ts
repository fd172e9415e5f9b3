import { invalidOption } from '../../errors.ts'
import { boolOption, intOption, knownKeys, MAX_TIMER_DELAY } from '../../validate.ts'
import { SessionDecoder, type SessionTuple } from '../decoded.ts'
import { pruneLoop } from '../prune.ts'
import { tooLarge } from '../size.ts'
import type { CoatcheckStore, CounterState } from '../types.ts'
import { stringified, toCounter, toToken } from './records.ts'
import { checkTables, migrateOptions, migration, resolveTables, type Statement, statements } from './sql.ts'
import { sender } from './wire.ts'

/**
 * The slice of a `pg` Pool (or Client) the store uses. A Pool is what you want: it reconnects after the database
 * restarts, where a lone Client stays broken.
 */
export interface PostgresQueryable {
  /**
   * pg's `query`: SQL text and its values, or one `{ name, text, values, rowMode }` object that runs as a named
   * prepared statement (see `preparedStatements`). A pg Pool is also handed pg's "submittable" query objects, which
   * the store uses where the pool takes them (checked at start-up). Each is sent once: a wrapper that retries a call
   * must call `query` again rather than send the same object twice (the second send fails).
   */
  query(
    query: string | PostgresPreparedQuery,
    values?: unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>
  /** pg's EventEmitter side; used only to keep an idle-client error from crashing the process (see the factory). */
  on?(event: 'error', listener: (error: Error) => void): unknown
  listenerCount?(event: 'error'): number
}

/** The object form of pg's `query`: prepared once per connection under `name`, then run by name, rows as arrays. */
export interface PostgresPreparedQuery {
  name: string
  text: string
  values: unknown[]
  rowMode?: 'array'
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
  /**
   * How often expired sessions, tokens and counters are deleted, in ms, by one unref'd timer (see `prune.ts`).
   * Positive integer up to 2³¹ − 1. Default 60 000.
   */
  pruneInterval?: number
}

/** What {@link postgresStore} resolves: a complete store whose `close()` stops the prune timer. */
export type PostgresStore = CoatcheckStore & { close(): Promise<void> }

/**
 * Creates the tables and indexes if they are missing. Idempotent, and safe to run from several instances at once:
 * everything runs as one multi-statement query, which PostgreSQL executes as one implicit transaction, serialized
 * by `pg_advisory_xact_lock` (so it needs no dedicated connection and leaves none in a transaction on failure).
 * Creates `schema` too when one is given. Needs the right to create tables; see `createTables`.
 *
 * @example
 * ```ts
 * await migrate(pool, { schema: 'auth' }) // in a deploy step, as a role that may create tables
 * ```
 */
export async function migrate(pool: PostgresQueryable, options: PostgresTableOptions = {}): Promise<void> {
  checkPool(pool)
  const t = resolveTables(migrateOptions(options))
  await pool.query(migration(t))
}

/**
 * A store in PostgreSQL (≥ 13) through `pg`: for production with many app instances. Resolves once the tables are
 * ready: it runs {@link migrate} unless `createTables` is false, in which case it rejects with a `STORE_ERROR`
 * naming any missing table. Expired rows are deleted by one unref'd timer; a failing prune is retried on the next
 * tick, reported once as a process warning and never as an unhandled rejection. Query failures reject, and the
 * session engine answers them with 503. `close()` stops the timer and leaves the pool open.
 *
 * pg's Pool emits `'error'` when an idle connection dies (a database restart), and an EventEmitter without an
 * `'error'` listener throws, crashing the process. So when the pool has no `'error'` listener, the store adds one
 * that ignores these errors: the pool has already dropped the dead client, and the next query connects anew. The
 * listener stays for the pool's lifetime. An app that listens to the pool's `'error'` itself is left alone.
 *
 * @example
 * ```ts
 * import pg from 'pg'
 * import { postgresStore } from 'coatcheck/postgres'
 * const store = await postgresStore({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) })
 * app.use(session({ secret, store }))
 * ```
 */
export async function postgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const { pool, tables: t, createTables, pruneInterval, preparedStatements } = resolveOptions(options)
  if (createTables) await pool.query(migration(t))
  else await checkTables(pool, t)
  if (pool.on && pool.listenerCount?.('error') === 0) pool.on('error', ignoreIdleClientError)

  const q = statements(t)
  const decoder = new SessionDecoder()
  const send = await sender(pool, preparedStatements)
  const run = async (statement: Statement, values: unknown[]) => (await send(statement, values)).rows
  const changed = async (statement: Statement, values: unknown[]) => (await send(statement, values)).rowCount > 0
  // Counts come back as text from the wire, as numbers or strings from pg's parsers: Number() takes all of them.
  const count = (rows: unknown[][]) => Number(rows[0]?.[0] ?? 0)

  async function prune(): Promise<number> {
    return count(await run(q.prune, [Date.now()]))
  }
  const stop = pruneLoop('postgresStore()', prune, pruneInterval)

  return {
    async get(key) {
      const [row] = await run(q.get, [key, Date.now()])
      return row && decoder.record(key, row as SessionTuple)
    },
    async create(key, r) {
      const values = [key, r.userId, stringified(r.data), JSON.stringify(r.meta)]
      return changed(q.create, [...values, r.createdAt, r.lastSeenAt, r.expiresAt, r.absoluteExpiresAt, Date.now()])
    },
    async update(key, patch) {
      const values = [
        key,
        Date.now(),
        patch.unset ?? [],
        stringified(patch.set ?? {}),
        patch.meta === undefined ? null : JSON.stringify(patch.meta),
        patch.lastSeenAt ?? null,
        patch.expiresAt ?? null,
      ]
      // Only a patch that sets keys can grow the data past its bound.
      if (patch.maxBytes === undefined || patch.set === undefined) return changed(q.update, values)
      const bounded = [...values, patch.maxBytes]
      if (await changed(q.updateBounded, bounded)) return true
      // Gone, or refused: rare, so told apart by a second statement, which writes if a concurrent patch made room.
      const [row] = await run(q.updateJudged, bounded)
      const [found, written, after] = (row ?? []).map(Number)
      if (written! > 0) return true
      if (found! > 0) throw tooLarge(after!, patch.maxBytes)
      return false
    },
    async touch(key, lastSeenAt, expiresAt) {
      return changed(q.touch, [key, Date.now(), lastSeenAt, expiresAt])
    },
    async destroy(key) {
      decoder.forget(key)
      const [row] = await run(q.destroy, [key, Date.now()])
      return isTrue(row?.[0])
    },
    async listByUser(userId) {
      const rows = await run(q.listByUser, [userId, Date.now()])
      return (rows as SessionTuple[]).map((row) => ({ key: row[7]!, record: decoder.record(row[7]!, row) }))
    },
    async destroyByUser(userId, exceptKey) {
      const n = count(await run(q.destroyByUser, [userId, exceptKey ?? null, Date.now()]))
      // The deleted keys are not returned (a user may have many): every decoding is dropped instead.
      decoder.clear()
      return n
    },
    prune,
    tokens: {
      async create(id, r) {
        const values = [id, r.userId, r.hash, JSON.stringify(r.meta), r.previousHash, r.createdAt, r.expiresAt]
        return changed(q.tokenCreate, [...values, r.rotatedAt, Date.now()])
      },
      async get(id) {
        const [row] = await run(q.tokenGet, [id, Date.now()])
        return row && toToken(row)
      },
      async rotate(id, expectedHash, next) {
        const meta = next.meta === undefined ? null : JSON.stringify(next.meta)
        return changed(q.tokenRotate, [id, expectedHash, Date.now(), next.hash, next.expiresAt, next.rotatedAt, meta])
      },
      async destroy(id) {
        await send(q.tokenDestroy, [id])
      },
      async listByUser(userId) {
        const rows = await run(q.tokenListByUser, [userId, Date.now()])
        return rows.map((row) => ({ id: row[0] as string, record: toToken(row) }))
      },
      async destroyByUser(userId) {
        return count(await run(q.tokenDestroyByUser, [userId, Date.now()]))
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
      stop()
      decoder.clear()
    },
  }
}

function ignoreIdleClientError(): void {}

/** A boolean column: `t` as text from the wire, `true` through pg's parsers. */
const isTrue = (value: unknown) => value === true || value === 't'

function checkPool(pool: unknown): asserts pool is PostgresQueryable {
  if (typeof (pool as PostgresQueryable | undefined)?.query !== 'function') {
    throw invalidOption('pool', 'must be a pg Pool (an object with a query(text, values) method)')
  }
}

const KNOWN = ['pool', 'tablePrefix', 'schema', 'preparedStatements', 'createTables', 'pruneInterval']

function resolveOptions(options: PostgresStoreOptions | undefined) {
  knownKeys('postgresStore()', options, KNOWN)
  const o = options ?? ({} as PostgresStoreOptions)
  checkPool(o.pool)
  return Object.freeze({
    pool: o.pool,
    tables: resolveTables(o),
    createTables: boolOption('createTables', o.createTables, true),
    pruneInterval: intOption('pruneInterval', o.pruneInterval, 60_000, { max: MAX_TIMER_DELAY }),
    preparedStatements: boolOption('preparedStatements', o.preparedStatements, true),
  })
}
