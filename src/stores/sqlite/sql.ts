/**
 * The SQL of the SQLite store: opening the file, the schema and every statement, prepared once per connection. Session `data` and `meta`
 * are JSON text columns, `data` an object whose values are each key's JSON text (see `records.ts`).
 */
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { CoatcheckError } from '../../errors.ts'

/** The columns of a session row, in the order the statements read them. */
const COLUMNS = 'data, user_id, meta, created_at, last_seen_at, expires_at, absolute_expires_at'
/** The columns of a token row but its id, likewise. */
const TOKEN_COLUMNS = 'user_id, hash, meta, previous_hash, created_at, expires_at, rotated_at'

/**
 * Opens `path` (creating its folder), sets the connection up and creates the tables. A failure names the path and
 * says whether its folder is writable: "unable to open database file" alone does not tell a read-only volume from a
 * typo.
 */
export function open(
  path: string,
  options: { busyTimeout: number; maxPageCount: number | undefined; tablePrefix: string },
): DatabaseSync {
  let db: DatabaseSync | undefined
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
    db = new DatabaseSync(path)
    // The lock wait comes first: another process may be switching the file to WAL or creating the tables right now.
    db.exec(`PRAGMA busy_timeout = ${options.busyTimeout}`)
    db.exec('PRAGMA journal_mode = WAL')
    db.exec('PRAGMA synchronous = NORMAL')
    if (options.maxPageCount !== undefined) db.exec(`PRAGMA max_page_count = ${options.maxPageCount}`)
    db.exec(schema(options.tablePrefix))
    upgrade(db, `${options.tablePrefix}tokens`)
    return db
  } catch (error) {
    if (db?.isOpen) db.close()
    const reason = error instanceof Error ? error.message : String(error)
    throw new CoatcheckError(
      'STORE_ERROR',
      `coatcheck: cannot open the SQLite database ${resolve(path)} (${reason}); ${folderState(dirname(resolve(path)))}`,
      503,
      { cause: error },
    )
  }
}

/** Why a database in `dir` may fail to open: whether the folder exists and is writable by this process. */
export function folderState(dir: string): string {
  if (!existsSync(dir)) return `its folder ${dir} does not exist and could not be created`
  if (!statSync(dir).isDirectory()) return `${dir} is not a folder`
  try {
    accessSync(dir, constants.W_OK)
    return `its folder ${dir} is writable`
  } catch {
    return `its folder ${dir} is not writable by this process`
  }
}

/** The token columns added after the first release, as `ADD COLUMN` defines them (see `upgrade`). */
const TOKEN_ADDED = ["meta TEXT NOT NULL DEFAULT '{}'", 'previous_hash TEXT', 'rotated_at INTEGER']

/**
 * Adds the columns of `TOKEN_ADDED` that a file made by an older version lacks. Idempotent, and safe for several
 * processes opening the same old file at once: the columns are checked again under the write lock before any
 * `ALTER TABLE`. A file that has them all costs one `PRAGMA table_info` and takes no lock.
 */
function upgrade(db: DatabaseSync, tokens: string): void {
  const missing = () => {
    const columns = new Set(
      db
        .prepare(`PRAGMA table_info(${tokens})`)
        .all()
        .map((c) => c.name),
    )
    return TOKEN_ADDED.filter((definition) => !columns.has(definition.split(' ')[0]!))
  }
  if (missing().length === 0) return
  db.exec('BEGIN IMMEDIATE')
  try {
    for (const definition of missing()) db.exec(`ALTER TABLE ${tokens} ADD COLUMN ${definition}`)
    db.exec('COMMIT')
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK')
    throw error
  }
}

/**
 * What the store would have to create or add in `db` for `prefix` (its tables; then the indexes and token columns a
 * file made by an older version lacks), as names; empty when the file is ready. For tools that must not create anything (the CLI's read commands).
 */
export function missingSchema(db: DatabaseSync, prefix: string): string[] {
  const tables = [`${prefix}sessions`, `${prefix}tokens`, `${prefix}counters`]
  const present = new Set(
    db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (?, ?, ?)`)
      .all(...tables)
      .map((row) => row.name),
  )
  const missing = tables.filter((table) => !present.has(table)).map((table) => `table ${table}`)
  if (missing.length > 0) return missing
  const indexes = new Set(
    db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'index'`)
      .all()
      .map((row) => row.name),
  )
  for (const [, index] of schema(prefix).matchAll(/CREATE INDEX IF NOT EXISTS (\S+)/g)) {
    if (!indexes.has(index)) missing.push(`index ${index}`)
  }
  const columns = new Set(
    db
      .prepare(`PRAGMA table_info(${tables[1]})`)
      .all()
      .map((c) => c.name),
  )
  for (const definition of TOKEN_ADDED) {
    const column = definition.split(' ')[0]!
    if (!columns.has(column)) missing.push(`column ${tables[1]}.${column}`)
  }
  return missing
}

/**
 * The idempotent schema of the three tables, `<prefix>sessions`, `<prefix>tokens` and `<prefix>counters`. Every
 * statement searches an index, the prunes included (a file made before the `expires_at` and `reset_at` indexes of
 * tokens and counters gets them here, on its first open: one `CREATE INDEX` under the write lock, a no-op for every
 * process after it).
 */
function schema(prefix: string): string {
  const [sessions, tokens, counters] = [`${prefix}sessions`, `${prefix}tokens`, `${prefix}counters`]
  return `
    CREATE TABLE IF NOT EXISTS ${sessions} (
      key TEXT PRIMARY KEY, user_id TEXT, data TEXT NOT NULL, meta TEXT NOT NULL, created_at INTEGER NOT NULL,
      last_seen_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, absolute_expires_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS ${sessions}_user_id ON ${sessions} (user_id);
    CREATE INDEX IF NOT EXISTS ${sessions}_expires_at ON ${sessions} (expires_at);
    CREATE TABLE IF NOT EXISTS ${tokens} (
      id TEXT PRIMARY KEY, user_id TEXT NOT NULL, hash TEXT NOT NULL, created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL, ${TOKEN_ADDED.join(', ')});
    CREATE INDEX IF NOT EXISTS ${tokens}_user_id ON ${tokens} (user_id);
    CREATE INDEX IF NOT EXISTS ${tokens}_expires_at ON ${tokens} (expires_at);
    CREATE TABLE IF NOT EXISTS ${counters} (key TEXT PRIMARY KEY, count INTEGER NOT NULL, reset_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS ${counters}_reset_at ON ${counters} (reset_at);`
}

/**
 * The store's statements on `db`, for the tables of `prefix`. Parameters are named (`$key`, `$now`...), but for the
 * read of one session's, which are positional (key, now).
 */
export function statements(db: DatabaseSync, prefix: string) {
  const [sessions, tokens, counters] = [`${prefix}sessions`, `${prefix}tokens`, `${prefix}counters`]
  const texts = {
    // Positional: binding named parameters costs a name lookup each (a fifth of this read's cost in node:sqlite).
    get: `SELECT ${COLUMNS} FROM ${sessions} WHERE key = ? AND expires_at > ?`,
    // Replaces a row only when it has expired: a live key is left alone and reports no change.
    create: `
      INSERT INTO ${sessions} (key, ${COLUMNS})
      VALUES ($key, $data, $userId, $meta, $createdAt, $lastSeenAt, $expiresAt, $absoluteExpiresAt)
      ON CONFLICT (key) DO UPDATE SET data = excluded.data, user_id = excluded.user_id, meta = excluded.meta,
        created_at = excluded.created_at, last_seen_at = excluded.last_seen_at, expires_at = excluded.expires_at,
        absolute_expires_at = excluded.absolute_expires_at
      WHERE ${sessions}.expires_at <= $now`,
    // Run inside BEGIN IMMEDIATE, after `get` found the row live (see `update`).
    write: `
      UPDATE ${sessions} SET data = $data, meta = $meta, last_seen_at = $lastSeenAt, expires_at = $expiresAt
      WHERE key = $key`,
    touch: `
      UPDATE ${sessions} SET last_seen_at = $lastSeenAt, expires_at = $expiresAt WHERE key = $key AND expires_at > $now`,
    destroy: `DELETE FROM ${sessions} WHERE key = $key RETURNING expires_at`,
    listByUser: `SELECT ${COLUMNS}, key FROM ${sessions} WHERE user_id = $userId AND expires_at > $now`,
    destroyByUser: `DELETE FROM ${sessions} WHERE user_id = $userId AND key IS NOT $exceptKey RETURNING key, expires_at`,
    // At most $limit rows each: a prune deletes in short transactions, and requests are served between them.
    pruneSessions: pruneBatch(sessions, 'expires_at'),
    pruneTokens: pruneBatch(tokens, 'expires_at'),
    pruneCounters: pruneBatch(counters, 'reset_at'),
    tokenCreate: `
      INSERT INTO ${tokens} (id, ${TOKEN_COLUMNS})
      VALUES ($id, $userId, $hash, $meta, $previousHash, $createdAt, $expiresAt, $rotatedAt)
      ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, hash = excluded.hash, meta = excluded.meta,
        previous_hash = excluded.previous_hash, created_at = excluded.created_at, expires_at = excluded.expires_at,
        rotated_at = excluded.rotated_at
      WHERE ${tokens}.expires_at <= $now`,
    tokenGet: `SELECT ${TOKEN_COLUMNS} FROM ${tokens} WHERE id = $id AND expires_at > $now`,
    // One statement, so the compare and the write are one atomic step; a null $meta keeps the stored one.
    tokenRotate: `
      UPDATE ${tokens} SET hash = $hash, expires_at = $expiresAt, previous_hash = $expectedHash,
        rotated_at = $rotatedAt, meta = coalesce($meta, meta)
      WHERE id = $id AND hash = $expectedHash AND expires_at > $now`,
    tokenListByUser: `SELECT id, ${TOKEN_COLUMNS} FROM ${tokens} WHERE user_id = $userId AND expires_at > $now`,
    tokenDestroy: `DELETE FROM ${tokens} WHERE id = $id`,
    tokenDestroyByUser: `DELETE FROM ${tokens} WHERE user_id = $userId RETURNING expires_at`,
    // The first hit of a window, or the first after it ended, opens a new one; later hits never move its end.
    hit: `
      INSERT INTO ${counters} (key, count, reset_at) VALUES ($key, 1, $resetAt)
      ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN ${counters}.reset_at <= $now THEN 1 ELSE ${counters}.count + 1 END,
        reset_at = CASE WHEN ${counters}.reset_at <= $now THEN excluded.reset_at ELSE ${counters}.reset_at END
      RETURNING count, reset_at`,
    peek: `SELECT count, reset_at FROM ${counters} WHERE key = $key AND reset_at > $now`,
    counterReset: `DELETE FROM ${counters} WHERE key = $key`,
  }
  const prepared = Object.fromEntries(Object.entries(texts).map(([name, text]) => [name, db.prepare(text)]))
  const statements = prepared as Record<keyof typeof texts, StatementSync>
  // Session rows are arrays (`SessionTuple` in records.ts): cheaper to build than an object per row.
  statements.get.setReturnArrays(true)
  statements.listByUser.setReturnArrays(true)
  return statements
}

const pruneBatch = (table: string, deadline: string) =>
  `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${deadline} <= $now LIMIT $limit)`
