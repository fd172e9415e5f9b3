import { CoatcheckError, invalidOption } from '../errors.ts'
import type { CounterState, SessionMeta, SessionRecord, Store, StoredData, TokenRecord } from './types.ts'

/**
 * The slice of a `pg` Pool (or Client) the store uses. A Pool is what you want: it reconnects after the database
 * restarts, where a lone Client stays broken.
 */
export interface PostgresQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>
  /** pg's EventEmitter side; used only to keep an idle-client error from crashing the process (see the factory). */
  on?(event: 'error', listener: (error: Error) => void): unknown
  listenerCount?(event: 'error'): number
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
   * Run {@link migrate} when the store starts. Set false where the app's role may not run DDL: the store then only
   * checks that the tables exist, and fails naming any that is missing. Default true.
   */
  createTables?: boolean
  /** How often expired sessions, tokens and counters are deleted, in ms. Positive integer up to 2³¹ − 1. Default 60 000. */
  pruneInterval?: number
}

/** What {@link postgresStore} resolves: a complete store whose `close()` stops the prune timer. */
export type PostgresStore = Store & { close(): Promise<void> }

const MAX_TIMER_DELAY = 2 ** 31 - 1
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/
// The longest name derived from the prefix, `<prefix>sessions_expires_at_idx`, must fit PostgreSQL's 63 bytes, or
// PostgreSQL would truncate it silently.
const MAX_PREFIX = 40

/** Quoted, schema-qualified table names, ready to paste into SQL. */
interface Tables {
  sessions: string
  tokens: string
  counters: string
  schema: string | undefined
  prefix: string
}

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

// Session data keeps the contract's exact JSON texts: `data` is a jsonb object whose values are JSON *strings* holding
// each key's text, e.g. {"cart": "[1,2]"}. Storing the values as real jsonb would normalize them (spaces, key order,
// number spelling), so a read would not return what was written; a `json` column keeps text but cannot be patched in
// place. This way a patch is one `(data - unset) || set`, and the table stays inspectable: `data->>'cart'`, or
// `(data->>'cart')::jsonb` to look inside. `meta` holds flat JSON scalars, which round-trip through jsonb as they are.
function migration({ sessions, tokens, counters, schema, prefix }: Tables): string {
  // An index lives in its table's schema, so its name is never qualified.
  const index = (name: string) => `"${prefix}${name}"`
  return `
    SELECT pg_advisory_xact_lock(hashtext('coatcheck migrate'));
    ${schema === undefined ? '' : `CREATE SCHEMA IF NOT EXISTS "${schema}";`}
    CREATE TABLE IF NOT EXISTS ${sessions} (
      key text PRIMARY KEY,
      user_id text,
      data jsonb NOT NULL,
      meta jsonb NOT NULL,
      created_at bigint NOT NULL,
      last_seen_at bigint NOT NULL,
      expires_at bigint NOT NULL,
      absolute_expires_at bigint NOT NULL
    );
    CREATE INDEX IF NOT EXISTS ${index('sessions_user_id_idx')} ON ${sessions} (user_id);
    CREATE INDEX IF NOT EXISTS ${index('sessions_expires_at_idx')} ON ${sessions} (expires_at);
    CREATE TABLE IF NOT EXISTS ${tokens} (
      id text PRIMARY KEY,
      user_id text NOT NULL,
      hash text NOT NULL,
      created_at bigint NOT NULL,
      expires_at bigint NOT NULL
    );
    CREATE INDEX IF NOT EXISTS ${index('tokens_user_id_idx')} ON ${tokens} (user_id);
    CREATE TABLE IF NOT EXISTS ${counters} (
      key text PRIMARY KEY,
      count integer NOT NULL,
      reset_at bigint NOT NULL
    );`
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
  const { pool, tables: t, createTables, pruneInterval } = resolveOptions(options)
  if (createTables) await pool.query(migration(t))
  else await checkTables(pool, t)
  if (pool.on && pool.listenerCount?.('error') === 0) pool.on('error', ignoreIdleClientError)

  const q = statements(t)
  const run = async (text: string, values: unknown[]) => (await pool.query(text, values)).rows
  const changed = async (text: string, values: unknown[]) => ((await pool.query(text, values)).rowCount ?? 0) > 0

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
      await pool.query(q.destroy, [key])
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
        await pool.query(q.tokenDestroy, [id])
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
        await pool.query(q.counterReset, [key])
      },
    },
    async close() {
      clearInterval(timer)
    },
  }
}

function statements({ sessions, tokens, counters }: Tables) {
  // Data comes back as [key, text] pairs and meta as [key, value] pairs, never as one parsed object, so a key named
  // `__proto__` stays a key (see toSession). Times are bigint, which pg returns as strings.
  const record = `key, user_id, created_at, last_seen_at, expires_at, absolute_expires_at,
    (SELECT coalesce(jsonb_agg(jsonb_build_array(d.key, d.value)), '[]') FROM jsonb_each_text(data) d) AS data,
    (SELECT coalesce(jsonb_agg(jsonb_build_array(m.key, m.value)), '[]') FROM jsonb_each(meta) m) AS meta`
  return Object.freeze({
    get: `SELECT ${record} FROM ${sessions} WHERE key = $1 AND expires_at > $2`,
    // Replaces a record only once it has expired; a live one makes the upsert a no-op (rowCount 0).
    create: `INSERT INTO ${sessions} AS s
        (key, user_id, data, meta, created_at, last_seen_at, expires_at, absolute_expires_at)
      VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6, $7, $8)
      ON CONFLICT (key) DO UPDATE SET user_id = excluded.user_id, data = excluded.data, meta = excluded.meta,
        created_at = excluded.created_at, last_seen_at = excluded.last_seen_at, expires_at = excluded.expires_at,
        absolute_expires_at = excluded.absolute_expires_at
      WHERE s.expires_at <= $9`,
    // One statement: the row lock makes concurrent patches apply one after the other, each to the latest data.
    update: `UPDATE ${sessions} SET
        data = (data - $3::text[]) || $4::jsonb,
        user_id = CASE WHEN $5::boolean THEN $6::text ELSE user_id END,
        meta = coalesce($7::jsonb, meta),
        last_seen_at = coalesce($8::bigint, last_seen_at),
        expires_at = coalesce($9::bigint, expires_at),
        absolute_expires_at = coalesce($10::bigint, absolute_expires_at)
      WHERE key = $1 AND expires_at > $2`,
    touch: `UPDATE ${sessions} SET last_seen_at = $3, expires_at = $4 WHERE key = $1 AND expires_at > $2`,
    destroy: `DELETE FROM ${sessions} WHERE key = $1`,
    listByUser: `SELECT ${record} FROM ${sessions} WHERE user_id = $1 AND expires_at > $2`,
    destroyByUser: `WITH gone AS (
        DELETE FROM ${sessions} WHERE user_id = $1 AND key IS DISTINCT FROM $2 RETURNING expires_at
      ) SELECT count(*) FILTER (WHERE expires_at > $3)::int AS n FROM gone`,
    // Data-modifying CTEs all run, read or not: one round trip prunes the three tables.
    prune: `WITH gone AS (DELETE FROM ${sessions} WHERE expires_at <= $1 RETURNING 1),
        t AS (DELETE FROM ${tokens} WHERE expires_at <= $1),
        c AS (DELETE FROM ${counters} WHERE reset_at <= $1)
      SELECT count(*)::int AS n FROM gone`,
    tokenCreate: `INSERT INTO ${tokens} AS t (id, user_id, hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)
      ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, hash = excluded.hash,
        created_at = excluded.created_at, expires_at = excluded.expires_at
      WHERE t.expires_at <= $6`,
    tokenGet: `SELECT user_id, hash, created_at, expires_at FROM ${tokens} WHERE id = $1 AND expires_at > $2`,
    // Compare-and-swap: of two concurrent rotations, the second re-checks the hash after the first commits.
    tokenRotate: `UPDATE ${tokens} SET hash = $4, expires_at = $5 WHERE id = $1 AND hash = $2 AND expires_at > $3`,
    tokenDestroy: `DELETE FROM ${tokens} WHERE id = $1`,
    tokenDestroyByUser: `WITH gone AS (DELETE FROM ${tokens} WHERE user_id = $1 RETURNING expires_at)
      SELECT count(*) FILTER (WHERE expires_at > $2)::int AS n FROM gone`,
    // The first hit of a window, or the first after it ended, (re)opens it; later hits only count.
    counterHit: `INSERT INTO ${counters} AS c (key, count, reset_at) VALUES ($1, 1, $2::bigint + $3::bigint)
      ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN c.reset_at <= $2 THEN 1 ELSE c.count + 1 END,
        reset_at = CASE WHEN c.reset_at <= $2 THEN excluded.reset_at ELSE c.reset_at END
      RETURNING count, reset_at`,
    counterPeek: `SELECT count, reset_at FROM ${counters} WHERE key = $1 AND reset_at > $2`,
    counterReset: `DELETE FROM ${counters} WHERE key = $1`,
  })
}

function toSession(row: Record<string, unknown>): SessionRecord {
  // Null-prototype objects filled from pairs: `__proto__` and `constructor` are plain keys.
  const data: StoredData = Object.create(null)
  for (const [name, text] of row.data as [string, string][]) data[name] = text
  const meta: SessionMeta = Object.create(null)
  for (const [name, value] of row.meta as [string, SessionMeta[string]][]) meta[name] = value
  return {
    data,
    userId: row.user_id as string | null,
    meta,
    createdAt: Number(row.created_at),
    lastSeenAt: Number(row.last_seen_at),
    expiresAt: Number(row.expires_at),
    absoluteExpiresAt: Number(row.absolute_expires_at),
  }
}

function toToken(row: Record<string, unknown>): TokenRecord {
  const { user_id, hash, created_at, expires_at } = row
  return {
    userId: user_id as string,
    hash: hash as string,
    createdAt: Number(created_at),
    expiresAt: Number(expires_at),
  }
}

function toCounter(row: Record<string, unknown>): CounterState {
  return { count: Number(row.count), resetAt: Number(row.reset_at) }
}

/** A jsonb object whose values are the texts as JSON strings (see `migration`). */
function stringified(data: StoredData): string {
  // JSON.stringify writes an own `__proto__` key like any other.
  return JSON.stringify(data)
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

function resolveTables({ tablePrefix = 'coatcheck_', schema }: PostgresTableOptions): Tables {
  if (typeof tablePrefix !== 'string' || !IDENTIFIER.test(tablePrefix) || tablePrefix.length > MAX_PREFIX) {
    throw invalidOption('tablePrefix', `must match ${IDENTIFIER} and be at most ${MAX_PREFIX} characters`)
  }
  if (schema !== undefined && (typeof schema !== 'string' || !IDENTIFIER.test(schema) || schema.length > 63)) {
    throw invalidOption('schema', `must match ${IDENTIFIER} and be at most 63 characters`)
  }
  // Validated above, so quoting cannot be escaped; quoted, so reserved words are fine as names.
  const qualify = (name: string) => `${schema === undefined ? '' : `"${schema}".`}"${tablePrefix}${name}"`
  return Object.freeze({
    sessions: qualify('sessions'),
    tokens: qualify('tokens'),
    counters: qualify('counters'),
    schema,
    prefix: tablePrefix,
  })
}

function resolveOptions(options: PostgresStoreOptions | undefined) {
  const { pool, createTables = true, pruneInterval = 60_000, ...where } = options ?? ({} as PostgresStoreOptions)
  checkPool(pool)
  const tables = resolveTables(where)
  if (typeof createTables !== 'boolean') throw invalidOption('createTables', 'must be a boolean')
  if (!Number.isInteger(pruneInterval) || pruneInterval < 1 || pruneInterval > MAX_TIMER_DELAY) {
    throw invalidOption('pruneInterval', `must be a positive integer of at most ${MAX_TIMER_DELAY} ms`)
  }
  return Object.freeze({ pool, tables, createTables, pruneInterval })
}
