/**
 * The SQL of the PostgreSQL store: table names, the migration and every statement, each named for preparing.
 *
 * Session data keeps the contract's exact JSON texts: `data` is a jsonb object whose values are JSON *strings* holding
 * each key's text, e.g. {"cart": "[1,2]"}. Storing the values as real jsonb would normalize them (spaces, key order,
 * number spelling), so a read would not return what was written; a `json` column keeps text but cannot be patched in
 * place. This way a patch is one `(data - unset) || set`, and the table stays inspectable: `data->>'cart'`, or
 * `(data->>'cart')::jsonb` to look inside. `meta` holds flat JSON scalars, which round-trip through jsonb as they are.
 */
import { createHash } from 'node:crypto'
import { CoatcheckError } from '../../errors.ts'
import { identifierOption, knownKeys } from '../../validate.ts'
import type { PostgresQueryable } from './index.ts'

/** Quoted, schema-qualified table names, ready to paste into SQL. */
export interface Tables {
  sessions: string
  tokens: string
  counters: string
  schema: string | undefined
  prefix: string
}

/** One statement of the store: its SQL and the name it is prepared under. */
export interface Statement {
  /**
   * `coatcheck_<what>_<hash of text>`: pg caches prepared statements per connection by name, and rejects a name
   * reused for other text.
   */
  readonly name: string
  readonly text: string
}

// The longest name derived from the prefix, `<prefix>sessions_expires_at_idx`, must fit PostgreSQL's 63 bytes, or
// PostgreSQL would truncate it silently.
const MAX_PREFIX = 40

/** Validates the table options (see `PostgresTableOptions`) into quoted names. */
export function resolveTables(options: { tablePrefix?: string; schema?: string }): Tables {
  const tablePrefix = identifierOption('tablePrefix', options.tablePrefix, 'coatcheck_', MAX_PREFIX)!
  const schema = identifierOption('schema', options.schema, undefined, 63)
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

/** The idempotent DDL of these tables: one multi-statement query, serialized by an advisory lock. */
export function migration({ sessions, tokens, counters, schema, prefix }: Tables): string {
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
    ) WITH (fillfactor = ${FILLFACTOR});
    ${setFillfactor(sessions)}
    CREATE INDEX IF NOT EXISTS ${index('sessions_user_id_idx')} ON ${sessions} (user_id);
    CREATE INDEX IF NOT EXISTS ${index('sessions_expires_at_idx')} ON ${sessions} (expires_at);
    CREATE TABLE IF NOT EXISTS ${tokens} (
      id text PRIMARY KEY,
      user_id text NOT NULL,
      hash text NOT NULL,
      created_at bigint NOT NULL,
      expires_at bigint NOT NULL
    );
    -- The later columns, for a new table and for one made by an older version alike.
    ${addColumns(tokens, TOKEN_ADDED)}
    CREATE INDEX IF NOT EXISTS ${index('tokens_user_id_idx')} ON ${tokens} (user_id);
    CREATE TABLE IF NOT EXISTS ${counters} (
      key text PRIMARY KEY,
      count integer NOT NULL,
      reset_at bigint NOT NULL
    );`
}

/**
 * The share of each sessions page that inserts fill, in per cent. The rest is room for the new versions of the rows
 * on the page, so that a write which changes no indexed column (data, meta) is a HOT update: no new index entries,
 * and the dead version is reclaimed by the next access to the page. Full pages (fillfactor 100, PostgreSQL's default)
 * made every first write of a session a non-HOT update into another page, touching all three indexes: in a bulk-filled
 * table of 100 000 sessions, one write each to 20 000 of them and then a second, 0 % HOT at 100, 60 % at 90, 91 % at 80.
 */
const FILLFACTOR = 80

/**
 * Gives a sessions table made by an older version the same fillfactor, unless it has one of its own (a DBA's choice
 * stays). Run only when needed, like `addColumns`; the setting takes a lock that does not block reads or writes, and
 * applies to pages written from then on (a `VACUUM FULL` applies it to the rest).
 */
function setFillfactor(table: string): string {
  return `DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_class, unnest(reloptions) AS o
          WHERE pg_class.oid = '${table}'::regclass AND o LIKE 'fillfactor=%') THEN
        ALTER TABLE ${table} SET (fillfactor = ${FILLFACTOR});
      END IF;
    END $$;`
}

/** The token columns added after the first release, by name. */
const TOKEN_ADDED: Record<string, string> = {
  meta: "jsonb NOT NULL DEFAULT '{}'",
  previous_hash: 'text',
  rotated_at: 'bigint',
}

/**
 * `ADD COLUMN IF NOT EXISTS` for each of `columns` on `table`, run only when one is missing: even a no-op ALTER TABLE
 * takes an ACCESS EXCLUSIVE lock, which would queue every query on the table behind any long one at each app start.
 * A constant default makes the ALTER itself instant (no rewrite of the table).
 */
function addColumns(table: string, columns: Record<string, string>): string {
  const names = Object.keys(columns)
  const adds = names.map((name) => `ADD COLUMN IF NOT EXISTS ${name} ${columns[name]}`).join(', ')
  return `DO $$ BEGIN
      IF (SELECT count(*) FROM pg_attribute WHERE attrelid = '${table}'::regclass AND NOT attisdropped
          AND attname IN (${names.map((name) => `'${name}'`).join(', ')})) < ${names.length} THEN
        ALTER TABLE ${table} ${adds};
      END IF;
    END $$;`
}

/**
 * Rejects with `STORE_ERROR` naming every table of `t` that is missing, or the columns a table made by an older
 * version lacks, and the fix (`createTables: false`).
 */
export async function checkTables(pool: PostgresQueryable, t: Tables): Promise<void> {
  const tables = [t.sessions, t.tokens, t.counters]
  const { rows } = await pool.query('SELECT to_regclass($1) AS a, to_regclass($2) AS b, to_regclass($3) AS c', tables)
  const found = [rows[0]?.a, rows[0]?.b, rows[0]?.c]
  const missing = tables.filter((_, i) => found[i] == null).map((name) => name.replaceAll('"', ''))
  const fix =
    'run `migrate(pool, { tablePrefix, schema })` once as a role that may create tables, ' +
    'or let the store create them with `createTables: true`'
  if (missing.length > 0) {
    throw new CoatcheckError(
      'STORE_ERROR',
      `coatcheck: PostgreSQL table${missing.length > 1 ? 's' : ''} ${missing.join(', ')} missing; ${fix}`,
    )
  }
  const columns = await pool.query(
    'SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND NOT attisdropped AND attname = ANY($2)',
    [t.tokens, Object.keys(TOKEN_ADDED)],
  )
  const present = new Set(columns.rows.map((row) => row.attname))
  const lacking = Object.keys(TOKEN_ADDED).filter((name) => !present.has(name))
  if (lacking.length === 0) return
  throw new CoatcheckError(
    'STORE_ERROR',
    `coatcheck: PostgreSQL table ${t.tokens.replaceAll('"', '')} lacks column${lacking.length > 1 ? 's' : ''} ` +
      `${lacking.join(', ')} (made by an older version); ${fix}`,
  )
}

/** The options of `migrate()`, checked like a factory's. */
export function migrateOptions(options: unknown): { tablePrefix?: string; schema?: string } {
  knownKeys('migrate()', options, ['tablePrefix', 'schema'])
  return (options ?? {}) as { tablePrefix?: string; schema?: string }
}

/** `maxBytes`' size of a jsonb data object (values are the JSON texts, see above): octet_length counts UTF-8 bytes. */
const bytes = (data: string) =>
  `(SELECT coalesce(sum(octet_length(k) + octet_length(v)), 0) FROM jsonb_each_text(${data}) AS e(k, v))`

/** The store's statements for these tables. Times are bigint, which come back as strings (or as the pool parses them). */
export function statements({ sessions, tokens, counters }: Tables) {
  // A session comes back as SessionTuple's columns, data and meta as text: the store decodes them itself (reusing the
  // last decoding of the same texts), and text is the same whatever type parsers the app gave its pool.
  const record = `data::text, user_id, meta::text, created_at, last_seen_at, expires_at, absolute_expires_at`
  const token = 'id, user_id, hash, meta::text AS meta, previous_hash, created_at, expires_at, rotated_at'
  const texts = {
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
    // An empty `unset` or `set` hands `data` back as it is: PostgreSQL's jsonb `-` and `||` skip an empty operand.
    update: `UPDATE ${sessions} SET
        data = (data - $3::text[]) || $4::jsonb,
        meta = coalesce($5::jsonb, meta),
        last_seen_at = coalesce($6::bigint, last_seen_at),
        expires_at = coalesce($7::bigint, expires_at)
      WHERE key = $1 AND expires_at > $2`,
    // `update` under maxBytes ($8), in one statement: the size is judged in the WHERE clause, which PostgreSQL
    // evaluates again on the latest version of a row that a concurrent patch changed (READ COMMITTED), so two
    // patches cannot pass the bound together. The size before the patch is computed only when the one after is over
    // the bound. Updates nothing both when the row is gone and when the patch is refused; `updateJudged` then tells.
    updateBounded: `UPDATE ${sessions} SET
        data = (data - $3::text[]) || $4::jsonb,
        meta = coalesce($5::jsonb, meta),
        last_seen_at = coalesce($6::bigint, last_seen_at),
        expires_at = coalesce($7::bigint, expires_at)
      WHERE key = $1 AND expires_at > $2
        AND (${bytes('(data - $3::text[]) || $4::jsonb')} <= $8::bigint
          OR ${bytes('(data - $3::text[]) || $4::jsonb')} <= ${bytes('data')})`,
    // The same patch, decisively: FOR UPDATE waits for a concurrent patch and then reads the row it committed
    // (READ COMMITTED re-reads a locked row), so the size is judged on the latest data and two patches cannot pass
    // the bound together. found = 0: gone; written = 0 with found = 1: refused, `after` is the size it would have.
    updateJudged: `WITH cur AS (
        SELECT key, data AS prev, (data - $3::text[]) || $4::jsonb AS next
        FROM ${sessions} WHERE key = $1 AND expires_at > $2 FOR UPDATE
      ), sized AS (
        SELECT key, next, ${bytes('prev')} AS before, ${bytes('next')} AS after FROM cur
      ), written AS (
        UPDATE ${sessions} AS s SET data = sized.next, meta = coalesce($5::jsonb, s.meta),
          last_seen_at = coalesce($6::bigint, s.last_seen_at), expires_at = coalesce($7::bigint, s.expires_at)
        FROM sized WHERE s.key = sized.key AND (sized.after <= $8::bigint OR sized.after <= sized.before)
        RETURNING 1
      ) SELECT (SELECT count(*) FROM cur)::int AS found, (SELECT count(*) FROM written)::int AS written,
        (SELECT after FROM sized)::bigint AS after`,
    touch: `UPDATE ${sessions} SET last_seen_at = $3, expires_at = $4 WHERE key = $1 AND expires_at > $2`,
    destroy: `DELETE FROM ${sessions} WHERE key = $1 RETURNING expires_at > $2 AS live`,
    listByUser: `SELECT ${record}, key FROM ${sessions} WHERE user_id = $1 AND expires_at > $2`,
    destroyByUser: `WITH gone AS (
        DELETE FROM ${sessions} WHERE user_id = $1 AND key IS DISTINCT FROM $2 RETURNING expires_at
      ) SELECT count(*) FILTER (WHERE expires_at > $3)::int AS n FROM gone`,
    // Data-modifying CTEs all run, read or not: one round trip prunes the three tables.
    prune: `WITH gone AS (DELETE FROM ${sessions} WHERE expires_at <= $1 RETURNING 1),
        t AS (DELETE FROM ${tokens} WHERE expires_at <= $1),
        c AS (DELETE FROM ${counters} WHERE reset_at <= $1)
      SELECT count(*)::int AS n FROM gone`,
    tokenCreate: `INSERT INTO ${tokens} AS t
        (id, user_id, hash, meta, previous_hash, created_at, expires_at, rotated_at)
      VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8)
      ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, hash = excluded.hash, meta = excluded.meta,
        previous_hash = excluded.previous_hash, created_at = excluded.created_at, expires_at = excluded.expires_at,
        rotated_at = excluded.rotated_at
      WHERE t.expires_at <= $9`,
    tokenGet: `SELECT ${token} FROM ${tokens} WHERE id = $1 AND expires_at > $2`,
    // Compare-and-swap: of two concurrent rotations, the second re-checks the hash after the first commits. A null
    // meta ($7) keeps the stored one.
    tokenRotate: `UPDATE ${tokens} SET hash = $4, expires_at = $5, previous_hash = $2, rotated_at = $6,
        meta = coalesce($7::jsonb, meta)
      WHERE id = $1 AND hash = $2 AND expires_at > $3`,
    tokenListByUser: `SELECT ${token} FROM ${tokens} WHERE user_id = $1 AND expires_at > $2`,
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
  }
  const named = Object.entries(texts).map(([what, text]) => [what, Object.freeze({ name: nameOf(what, text), text })])
  return Object.freeze(Object.fromEntries(named) as Record<keyof typeof texts, Statement>)
}

// The text decides the name, so stores on other tables (or another version of this file) never collide on one
// connection, and stores on the same tables share their statements. 48 bits of hash are plenty for a few dozen texts.
export function nameOf(what: string, text: string): string {
  return `coatcheck_${what}_${createHash('sha256').update(text).digest('hex').slice(0, 12)}`
}
