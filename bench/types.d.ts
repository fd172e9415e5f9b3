// Just the parts of these untyped packages the bench uses. @types/express-session is left out on purpose: its
// global `req.session` would clash with coatcheck's.

declare module 'autocannon' {
  export interface Client {
    setHeaders(headers: Record<string, string>): void
  }
  export interface Options {
    url: string
    method?: 'GET' | 'POST'
    connections?: number
    /** Seconds. */
    duration?: number
    /** Requests in all; overrides `duration`. */
    amount?: number
    /** Seconds to wait for each response. Default 10. */
    timeout?: number
    headers?: Record<string, string>
    body?: string
    expectBody?: string
    /** Called once per connection. */
    setupClient?: ((client: Client) => void) | undefined
  }
  export interface Result {
    /** Seconds. */
    duration: number
    errors: number
    timeouts: number
    mismatches: number
    non2xx: number
    requests: { total: number }
    latency: { p50: number; p99: number; max: number }
  }
  function autocannon(options: Options): Promise<Result>
  export default autocannon
}

declare module 'express-session' {
  import type { RequestHandler } from 'express'

  export interface SessionOptions {
    secret: string
    store?: unknown
    resave: boolean
    saveUninitialized: boolean
    rolling?: boolean
    cookie?: { maxAge?: number }
  }
  function session(options: SessionOptions): RequestHandler
  namespace session {
    class MemoryStore {
      set(sid: string, session: object, callback: (error?: unknown) => void): void
    }
    class Store {}
  }
  export default session
}

declare module 'connect-pg-simple' {
  import type expressSession from 'express-session'
  import type pg from 'pg'

  type PgStore = new (options: { pool: pg.Pool; createTableIfMissing?: boolean }) => object
  function connectPgSimple(session: typeof expressSession): PgStore
  export default connectPgSimple
}

declare module 'better-sqlite3-session-store' {
  import type expressSession from 'express-session'

  type SqliteStore = new (options: { client: object; expired?: { clear?: boolean; intervalMs?: number } }) => object
  function betterSqliteStore(session: typeof expressSession): SqliteStore
  export default betterSqliteStore
}

declare module 'better-sqlite3' {
  class Database {
    constructor(path: string)
    exec(sql: string): this
    close(): void
  }
  export default Database
}
