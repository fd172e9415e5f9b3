import { DatabaseSync } from 'node:sqlite'
import { RedisStore } from 'connect-redis'
import express, { type Express, type Request, type Response } from 'express'
import expressSession from 'express-session'
import pg from 'pg'
import { createClient } from 'redis'
import { logIn, memoryStore, type SessionStore, session } from '../src/index.ts'
import { postgresStore } from '../src/stores/postgres/index.ts'
import { redisStore } from '../src/stores/redis/index.ts'
import { sqliteStore } from '../src/stores/sqlite/index.ts'
import { type AppArgs, PROFILE, USER } from './app-shape.ts'
import { probes } from './servers/serve.ts'

// The one app of the comparison: POST /login, GET /me, POST /cart (and GET /cart, to check that writes land), in
// each variant (bare, bare + a no-op middleware, express-session, coatcheck) on each backend. Every session variant
// runs its library's documented login: express-session regenerates the session, then stores the user; coatcheck
// stores the profile, then `logIn` (one store write: the login creates the record with both).

/** Lets a caller see every store the app creates (the store-call count wraps them); identity by default. */
export type Wrap = <S extends object>(store: S) => S

const secret = 'bench-secret-bench-secret-bench-secret'
const DAY = 86_400_000
type Data = Record<string, unknown>
type Cart = { sku: string; qty: number }[]

/** The cart after one more click: always a change, and never growing (a write costs the same in every round). */
const nextCart = (cart: unknown): Cart => [{ sku: 'A-1', qty: (((cart as Cart | undefined)?.[0]?.qty ?? 0) % 100) + 1 }]

function routes(app: Express, user: (req: Request) => unknown, data: (req: Request) => Data): void {
  app.get('/me', (req, res) => {
    const who = user(req)
    if (who === undefined || who === null) res.status(401).json({ error: 'unauthenticated' })
    else res.json({ user: who, name: data(req).name })
  })
  app.post('/cart', (req, res) => {
    if (user(req) == null) res.status(401).json({ error: 'unauthenticated' })
    else {
      const session = data(req)
      session.cart = nextCart(session.cart)
      res.json({ ok: true })
    }
  })
  app.get('/cart', (req, res) => {
    res.json(data(req).cart ?? [])
  })
}

/** The same answers, built the same way (`res.json` of a fresh object), with no session at all: the floor. */
function bare(app: Express): void {
  app.post('/login', (_req, res) => {
    res.json({ ok: true })
  })
  app.get('/me', (_req, res) => {
    res.json({ user: USER, name: PROFILE.name })
  })
  app.post('/cart', (_req, res) => {
    res.json({ ok: true })
  })
  app.get('/cart', (_req, res) => {
    res.json([])
  })
}

async function coatcheckStore({ backend, where }: AppArgs): Promise<SessionStore> {
  if (backend === 'memory') return memoryStore()
  if (backend === 'sqlite') return sqliteStore({ path: where })
  if (backend === 'redis') return redisStore({ client: await createClient({ url: where }).connect() })
  return postgresStore({ pool: new pg.Pool({ connectionString: where }) })
}

async function coatcheck(app: Express, args: AppArgs, wrap: Wrap): Promise<void> {
  app.use(session({ secret, store: wrap(await coatcheckStore(args)), rolling: args.rolling }))
  app.post('/login', async (req, res) => {
    Object.assign(req.session, PROFILE)
    await logIn(req, USER)
    res.json({ ok: true })
  })
  routes(
    app,
    (req) => req.session.userId,
    (req) => req.session as unknown as Data,
  )
}

/** The SQLite anchor's client: better-sqlite3 as its README shows, or node:sqlite when the addon cannot load here. */
async function sqliteClient(path: string): Promise<object> {
  const pragmas = (db: { exec(sql: string): unknown }) => {
    // The same durability settings as coatcheck's SQLite store, so the comparison is of the stores, not of fsyncs.
    db.exec('PRAGMA journal_mode = WAL')
    db.exec('PRAGMA synchronous = NORMAL')
    return db
  }
  if (process.env.BENCH_SQLITE_CLIENT === 'node:sqlite') return pragmas(new DatabaseSync(path))
  const { default: Database } = await import('better-sqlite3')
  return pragmas(new Database(path))
}

async function expressSessionStore({ backend, where }: AppArgs): Promise<object> {
  if (backend === 'memory') return new expressSession.MemoryStore()
  if (backend === 'redis') return new RedisStore({ client: await createClient({ url: where }).connect() })
  if (backend === 'postgres') {
    const { default: connectPgSimple } = await import('connect-pg-simple')
    const PgStore = connectPgSimple(expressSession)
    return new PgStore({ pool: new pg.Pool({ connectionString: where }), createTableIfMissing: true })
  }
  const { default: betterSqliteStore } = await import('better-sqlite3-session-store')
  const SqliteStore = betterSqliteStore(expressSession)
  return new SqliteStore({ client: await sqliteClient(where) })
}

interface LegacySession extends Data {
  regenerate(callback: (error?: unknown) => void): void
}
const legacy = (req: Request) => (req as unknown as { session: LegacySession }).session

async function withExpressSession(app: Express, args: AppArgs, wrap: Wrap): Promise<void> {
  const store = wrap(await expressSessionStore(args))
  const cookie = { maxAge: DAY }
  app.use(expressSession({ secret, store, resave: false, saveUninitialized: false, rolling: args.rolling, cookie }))
  app.post('/login', (req: Request, res: Response, next) => {
    legacy(req).regenerate((error) => {
      if (error) return next(error)
      Object.assign(legacy(req), { user: USER, ...PROFILE })
      res.json({ ok: true })
    })
  })
  routes(
    app,
    (req) => legacy(req).user,
    (req) => legacy(req),
  )
}

// `%HaveSameMap` needs --allow-natives-syntax, which only the profile bench passes; compiled only then.
const sameMap = process.execArgv.includes('--allow-natives-syntax')
  ? (new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean)
  : undefined

/**
 * With `BENCH_PROBE=1`, counts per response whether the response's methods were wrapped (a held response) and, with
 * natives syntax, whether `req` and `res` kept the hidden class of the previous request's (one shape, or several).
 */
function probe(app: Express): void {
  let last: { req: object; res: object } | undefined
  const count = (name: string) => {
    probes[name] = (probes[name] ?? 0) + 1
  }
  app.use((req, res, next) => {
    res.once('finish', () => {
      count('responses')
      if (Object.hasOwn(res, 'end') || Object.hasOwn(res, 'writeHead')) count('wrapped')
      if (sameMap && last) {
        if (!sameMap(req, last.req)) count('reqShapeChanged')
        if (!sameMap(res, last.res)) count('resShapeChanged')
      }
      last = { req, res }
    })
    next()
  })
}

/** The app of `args.variant` on `args.backend`. */
export async function buildApp(args: AppArgs, wrap: Wrap = (store) => store): Promise<Express> {
  const app = express()
  if (process.env.BENCH_PROBE === '1') probe(app)
  if (args.variant === 'bare') bare(app)
  else if (args.variant === 'noop') {
    // Bare Express plus one middleware that does nothing: what any middleware pays for being a layer of the router.
    app.use((_req, _res, next) => next())
    bare(app)
  } else if (args.variant === 'coatcheck') await coatcheck(app, args, wrap)
  else await withExpressSession(app, args, wrap)
  return app
}
