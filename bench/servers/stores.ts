import { RedisStore } from 'connect-redis'
import express from 'express'
import expressSession from 'express-session'
import pg from 'pg'
import { createClient } from 'redis'
import { memoryStore, type SessionStore, session } from '../../src/index.ts'
import { postgresStore } from '../../src/stores/postgres/index.ts'
import { redisStore } from '../../src/stores/redis/index.ts'
import { sqliteStore } from '../../src/stores/sqlite/index.ts'
import { authRoutes, serve, sessionData } from './serve.ts'

// One app, three operations, any backend: `stores.ts <coatcheck|express-session> <backend> [url or path]`.
// GET /me reads a session value, POST /visit changes one key of an existing session, POST /cart on a request without
// a cookie creates a session. GET /visits answers the counter, for the parent's check that writes really land.

const [impl, backend, where = ''] = process.argv.slice(2)
const secret = 'bench-secret-bench-secret-bench-secret'
const data = sessionData

async function coatcheckStore(): Promise<SessionStore> {
  if (backend === 'memory') return memoryStore()
  if (backend === 'sqlite') return sqliteStore({ path: where })
  if (backend === 'redis') return redisStore({ client: await createClient({ url: where }).connect() })
  if (backend === 'postgres') return postgresStore({ pool: new pg.Pool({ connectionString: where }) })
  throw new TypeError(`no coatcheck backend ${backend}`)
}

async function expressSessionStore(): Promise<unknown> {
  if (backend === 'memory') return new expressSession.MemoryStore()
  if (backend === 'redis') return new RedisStore({ client: await createClient({ url: where }).connect() })
  throw new TypeError(`no express-session backend ${backend}`)
}

const app = express()
if (impl === 'coatcheck') app.use(session({ secret, store: await coatcheckStore() }))
else if (impl === 'express-session') {
  const store = await expressSessionStore()
  app.use(expressSession({ secret, store, resave: false, saveUninitialized: false }))
} else throw new TypeError(`no session middleware ${impl}`)

authRoutes(app)
app.post('/visit', (req, res) => {
  const session = data(req)
  if (session.user === undefined) res.status(401).json({ error: 'unauthenticated' })
  else {
    session.visits = Number(session.visits ?? 0) + 1
    res.json({ ok: true })
  }
})
app.get('/visits', (req, res) => {
  res.json({ visits: data(req).visits ?? 0 })
})
app.post('/cart', (req, res) => {
  if (data(req).cart !== undefined) res.status(409).json({ error: 'expected a new session' })
  else {
    data(req).cart = [{ sku: 'A-1', qty: 1 }]
    res.json({ ok: true })
  }
})
await serve(app)
