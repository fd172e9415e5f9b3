/**
 * One store from one URL, for the `coatcheck` CLI and the reference app: `sqlite:<path>` (or `sqlite::memory:`),
 * `redis://…` / `rediss://…`, `redis+cluster://[user:pass@]host:port[,host:port…]`, `postgres://…` /
 * `postgresql://…`. The clients (`redis`, `pg`) are loaded only when their URL is used, and a missing one is named.
 */
import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { DatabaseSync } from 'node:sqlite'
import { CoatcheckError } from '../errors.ts'
import type { PostgresQueryable } from '../stores/postgres/index.ts'
import type { NodeRedisClientLike, NodeRedisClusterLike } from '../stores/redis/client.ts'
import type { CoatcheckStore } from '../stores/types.ts'

/** The Redis key prefix the store writes under unless told otherwise (see `stores/redis/index.ts`). */
export const DEFAULT_PREFIX = 'coatcheck:'
/** The SQLite / PostgreSQL table prefix unless told otherwise (see `stores/sqlite/sql.ts`, `stores/postgres/sql.ts`). */
export const DEFAULT_TABLE_PREFIX = 'coatcheck_'

/** A store opened from a URL, with what it takes to let go of it (the store, then the client it opened). */
export type OpenedStore =
  | Opened<'sqlite', DatabaseSync>
  | Opened<'redis', NodeRedisClientLike>
  | Opened<'redis-cluster', RedisClusterClient>
  | Opened<'postgres', PostgresQueryable>

/** The slice of a node-redis cluster used here: its masters, and a client for one of them. */
export interface RedisClusterClient extends NodeRedisClusterLike {
  readonly masters: readonly unknown[]
  nodeClient(master: unknown): Promise<NodeRedisClientLike> | NodeRedisClientLike
}

interface Opened<K extends string, C> {
  readonly kind: K
  readonly store: CoatcheckStore
  /**
   * The client under the store: a `DatabaseSync` connection of its own on the same file (SQLite), the node-redis
   * client or cluster, or the pg Pool. Closed by `close()`.
   */
  readonly client: C
  /** The Redis key prefix (Redis) or table prefix (SQLite, PostgreSQL) in use. */
  readonly prefix: string
  close(): Promise<void>
}

/** Options passed through to the store factory (a key prefix, say). */
export interface StoreUrlOptions {
  /** Redis key prefix. Default `coatcheck:`. */
  prefix?: string
  /** Table prefix for SQLite and PostgreSQL. Default `coatcheck_`. */
  tablePrefix?: string
  /**
   * Create what is missing: the SQLite file and its tables, the PostgreSQL tables (or their new columns). When false,
   * a missing SQLite file is an {@link UnreachableStore} and missing PostgreSQL tables reject with `STORE_ERROR`.
   * Default true.
   */
  createTables?: boolean
}

/** The URL names no supported store, is malformed, or needs a client package that is not installed. */
export class BadStoreUrl extends CoatcheckError {
  constructor(message: string) {
    super('INVALID_OPTION', `coatcheck: ${message}`)
    this.name = 'BadStoreUrl'
  }
}

/** The store is unreachable: the message names the URL (without its password), the client's error is the cause. */
export class UnreachableStore extends CoatcheckError {
  constructor(message: string, options?: ErrorOptions) {
    super('STORE_ERROR', `coatcheck: ${message}`, 503, options)
    this.name = 'UnreachableStore'
  }
}

/** The URLs this module opens, for error messages and help. */
export const STORE_URL_FORMS = 'sqlite:<path>, redis://…, redis+cluster://host:port,…, postgres://…'

/** Parses and opens `url`. Rejects with {@link BadStoreUrl} or {@link UnreachableStore}, or the store's own error. */
export async function openStore(url: string, options: StoreUrlOptions = {}): Promise<OpenedStore> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase()
  const create = options.createTables !== false
  if (scheme === 'sqlite') {
    const path = url.slice('sqlite:'.length).replace(/^\/\//, '')
    if (path === '')
      throw new BadStoreUrl(`store URL ${JSON.stringify(url)} names no file: use sqlite:data/sessions.db`)
    const prefix = options.tablePrefix ?? DEFAULT_TABLE_PREFIX
    if (!create && path !== ':memory:' && !existsSync(path)) {
      throw new UnreachableStore(`no SQLite database at ${resolve(path)} ("coatcheck migrate" creates one)`)
    }
    const { sqliteStore } = await import('../stores/sqlite/index.ts')
    const { DatabaseSync } = await import('node:sqlite')
    // The store creates its tables on open: a command that must not create anything checks them first (run.ts turns
    // this error into "not migrated", exit 5), as PostgreSQL's createTables: false does.
    if (!create && path !== ':memory:') {
      const { folderState, missingSchema } = await import('../stores/sqlite/sql.ts')
      const missing = readOnly(DatabaseSync, path, folderState, (db) => missingSchema(db, prefix))
      if (missing.length > 0) {
        throw new CoatcheckError('STORE_ERROR', `SQLite database ${resolve(path)} lacks ${missing.join(', ')}`)
      }
    }
    let store: ReturnType<typeof sqliteStore>
    try {
      store = sqliteStore({ path, tablePrefix: prefix })
    } catch (error) {
      // A bad option stays itself; a file that cannot be opened (the message names it and its folder) is unreachable.
      if (!(error instanceof CoatcheckError) || error.code !== 'STORE_ERROR') throw error
      throw new UnreachableStore(error.message.replace(/^coatcheck: /, ''), { cause: error })
    }
    // A connection of its own for what the contract does not offer (see `scan/sqlite.ts`): the file is open already.
    const db = new DatabaseSync(path)
    db.exec('PRAGMA busy_timeout = 1000')
    const close = async () => {
      await store.close()
      if (db.isOpen) db.close()
    }
    return { kind: 'sqlite', store, client: db, prefix, close }
  }
  if (scheme === 'redis' || scheme === 'rediss') {
    if (!URL.canParse(url)) throw new BadStoreUrl(`store URL ${JSON.stringify(hidePassword(url))} is not a valid URL`)
    const redis = await load<typeof import('redis')>('redis')
    const client = redis.createClient({ url, socket: { reconnectStrategy: false } })
    client.on('error', () => {})
    await connect(() => client.connect(), url)
    const prefix = options.prefix ?? DEFAULT_PREFIX
    const store = await redisStore(client, prefix)
    return { kind: 'redis', store, client, prefix, close: async () => void (await client.close()) }
  }
  if (scheme === 'redis+cluster') {
    const redis = await load<typeof import('redis')>('redis')
    const [, auth, list = ''] = /^redis\+cluster:\/\/(?:([^@/]*)@)?([^/?#]*)/i.exec(url) ?? []
    const hosts = list.split(',').filter(Boolean)
    const urls = hosts.map((host) => `redis://${auth ? `${auth}@` : ''}${host}`)
    if (hosts.length === 0 || !urls.every((u) => URL.canParse(u))) {
      throw new BadStoreUrl(
        `store URL ${JSON.stringify(hidePassword(url))} is not redis+cluster://host:port[,host:port…]`,
      )
    }
    const { username, password } = new URL(urls[0]!)
    const credentials = {
      ...(username && { username: decodeURIComponent(username) }),
      ...(password && { password: decodeURIComponent(password) }),
    }
    const cluster = redis.createCluster({
      rootNodes: hosts.map((host) => ({ url: `redis://${host}` })),
      defaults: { ...credentials, socket: { reconnectStrategy: false } },
    })
    cluster.on('error', () => {})
    await connect(() => cluster.connect(), url)
    const prefix = options.prefix ?? DEFAULT_PREFIX
    const store = await redisStore(cluster, prefix)
    const client = cluster as unknown as RedisClusterClient
    return { kind: 'redis-cluster', store, client, prefix, close: async () => void (await cluster.close()) }
  }
  if (scheme === 'postgres' || scheme === 'postgresql') {
    if (!URL.canParse(url)) throw new BadStoreUrl(`store URL ${JSON.stringify(hidePassword(url))} is not a valid URL`)
    const pg = await load<typeof import('pg')>('pg')
    const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5000 })
    pool.on('error', () => {})
    const prefix = options.tablePrefix ?? DEFAULT_TABLE_PREFIX
    const { postgresStore } = await import('../stores/postgres/index.ts')
    const store = await connect(() => postgresStore({ pool, tablePrefix: prefix, createTables: create }), url).catch(
      async (error: unknown) => {
        await pool.end()
        throw error
      },
    )
    const close = async () => {
      await store.close()
      await pool.end()
    }
    return { kind: 'postgres', store, client: pool, prefix, close }
  }
  throw new BadStoreUrl(`store URL ${JSON.stringify(hidePassword(url))} is not one of ${STORE_URL_FORMS}`)
}

async function redisStore(client: NodeRedisClientLike | NodeRedisClusterLike, prefix: string) {
  const { redisStore } = await import('../stores/redis/index.ts')
  return redisStore({ client, prefix })
}

async function load<T>(name: string): Promise<T> {
  try {
    return (await import(name)) as T
  } catch {
    throw new BadStoreUrl(`this store URL needs the \`${name}\` package: npm install ${name}`)
  }
}

/** `url` without the password of its userinfo, for messages. */
export function hidePassword(url: string): string {
  return url.replace(/\/\/([^@/:]*):[^@/]*@/, '//$1:***@')
}

async function connect<T>(work: () => Promise<T>, url: string): Promise<T> {
  try {
    return await work()
  } catch (error) {
    // The store's own verdicts (a bad option, missing PostgreSQL tables) and errors of a server that answered (a
    // migration refused for lack of privileges) pass through: the store was reached.
    if (error instanceof CoatcheckError || answered(error)) throw error
    throw new UnreachableStore(`cannot reach ${hidePassword(url)}: ${reasonOf(error)}`, { cause: error })
  }
}

/**
 * Whether PostgreSQL answered with an SQLSTATE other than those that mean "you cannot use this server": connection
 * exceptions (08), bad credentials (28), no such database (3D), shutting down or starting up (57P).
 */
function answered(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(08|28|3D|57P)/.test(code)
}

/** A connection error's message; Node reports a refused dual-stack connect as an AggregateError without one. */
function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && !error.message) return error.errors.map(reasonOf).join('; ')
  if (error instanceof Error) return error.message || (error as { code?: string }).code || error.name
  return String(error)
}

/**
 * Runs `read` on `path` opened read-only, waiting for a lock as the store does; a file that cannot be opened or read
 * so (not a database, a folder it cannot write its WAL index into) is unreachable, and the message says which.
 */
function readOnly<T>(
  Database: typeof DatabaseSync,
  path: string,
  folderState: (dir: string) => string,
  read: (db: DatabaseSync) => T,
): T {
  let db: DatabaseSync | undefined
  try {
    db = new Database(path, { readOnly: true, timeout: 1000 })
    return read(db)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    const where = folderState(dirname(resolve(path)))
    throw new UnreachableStore(`cannot read the SQLite database ${resolve(path)} (${reason}); ${where}`, {
      cause: error,
    })
  } finally {
    if (db?.isOpen) db.close()
  }
}
