import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import express from 'express'
import real from 'express-session'
import session, { type ExpressSessionOptions } from '../../src/express-session/index.ts'
import { send } from '../support/http.ts'
import { Client, SECRET, serve, sessionIdOf, shape } from './support.ts'

type Options = ExpressSessionOptions & Record<string, unknown>

/** The same routes on express-session or the drop-in face. */
function app(middleware: (options: Options) => express.RequestHandler, options: Options) {
  const app = express()
  app.use(middleware(options))
  const paths = (p: string) => [p, `/app${p}`]
  app.get(paths('/read'), (req, res) => {
    res.json({ has: Boolean(req.session), n: (req.session as { n?: number } | undefined)?.n ?? null })
  })
  app.get(paths('/inc'), (req, res) => {
    const s = req.session as unknown as { n?: number }
    s.n = (s.n ?? 0) + 1
    res.json({ n: s.n })
  })
  app.get(paths('/unset'), (req, res) => {
    delete (req as { session?: unknown }).session
    res.json({ ok: true })
  })
  app.use((error: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(error.status ?? 500).send('error')
  })
  return app
}

const STEPS: Array<[string, Record<string, string>?]> = [
  ['/read'],
  ['/inc'],
  ['/read'],
  ['/inc'],
  ['/read'],
  ['/read', { 'x-forwarded-proto': 'https' }],
  ['/inc', { 'x-forwarded-proto': 'https' }],
  ['/app/inc'],
  ['/app/read'],
  ['/unset'],
  ['/read'],
]

/** What a client observes through the steps: status, body and the shape of every Set-Cookie. */
async function transcript(middleware: (options: Options) => express.RequestHandler, options: Options) {
  const running = await serve(app(middleware, options))
  const client = new Client(running.url)
  const out: string[] = []
  try {
    for (const [path, headers] of STEPS) {
      const reply = await client.get(path, headers)
      out.push(`${path} ${reply.status} ${reply.body} ${reply.setCookies.map(shape).join(' | ')}`)
    }
  } finally {
    await running.close()
  }
  return out
}

const OPTION_SETS: Array<[string, () => Options]> = [
  ['defaults (resave and saveUninitialized undefined)', () => ({ secret: SECRET })],
  ['resave: false, saveUninitialized: false', () => ({ secret: SECRET, resave: false, saveUninitialized: false })],
  [
    'rolling with maxAge, sameSite: true, domain, name',
    () => ({
      secret: SECRET,
      name: 'app.sid',
      resave: false,
      saveUninitialized: false,
      rolling: true,
      cookie: { maxAge: 3_600_000, sameSite: true, domain: 'example.com' },
    }),
  ],
  [
    'key alias, fixed expires, httpOnly: false, priority',
    () => ({
      secret: [SECRET, 'old secret'],
      key: 'legacy.sid',
      resave: true,
      saveUninitialized: false,
      cookie: { httpOnly: false, priority: 'high', expires: new Date(Date.now() + 86_400_000) },
    }),
  ],
  [
    'proxy: true with secure and sameSite auto',
    () => ({
      secret: SECRET,
      proxy: true,
      resave: false,
      saveUninitialized: false,
      cookie: { secure: 'auto', sameSite: 'auto', maxAge: 60_000 },
    }),
  ],
  [
    'secure: true over http (no cookie, still stored)',
    () => ({ secret: SECRET, resave: false, saveUninitialized: true, cookie: { secure: true } }),
  ],
  [
    'cookie as a function of req, path /app',
    () => ({
      secret: SECRET,
      resave: false,
      saveUninitialized: false,
      cookie: () => ({ path: '/app', maxAge: 120_000, sameSite: 'strict' }),
    }),
  ],
  ["unset: 'destroy'", () => ({ secret: SECRET, resave: false, saveUninitialized: false, unset: 'destroy' })],
]

describe('drop-in face: same responses and cookies as express-session', () => {
  for (const [label, options] of OPTION_SETS) {
    it(label, async () => {
      const expected = await transcript(real, options())
      const actual = await transcript(session as never, options())
      assert.deepEqual(actual, expected)
    })
  }

  it('defaults: cookie connect.sid, 24-byte base64url IDs, Path=/; HttpOnly, a browser-session cookie', async () => {
    const running = await serve(app(session as never, { secret: SECRET }))
    const reply = await new Client(running.url).get('/read')
    await running.close()
    const [line = ''] = reply.setCookies
    assert.match(line, /^connect\.sid=s%3A[A-Za-z0-9_-]{32}\.[A-Za-z0-9%]+; Path=\/; HttpOnly$/)
  })

  it('reads a cookie signed by express-session with any of the secrets (rotation)', async () => {
    const old = await serve(app(real, { secret: 'old secret', resave: false, saveUninitialized: false }))
    const store = new session.MemoryStore()
    const client = new Client(old.url)
    await client.get('/inc')
    await old.close()
    // The same store contents under the new app: copy what express-session's store would hold.
    const id = sessionIdOf(client.jar.get('connect.sid')!)
    store.sessions[id] = JSON.stringify({ cookie: { originalMaxAge: null, path: '/', httpOnly: true }, n: 1 })
    const rotated = await serve(
      app(session as never, { secret: [SECRET, 'old secret'], store, resave: false, saveUninitialized: false }),
    )
    const reply = await client.moveTo(rotated.url).get('/inc')
    await rotated.close()
    assert.equal(JSON.parse(reply.body).n, 2)
  })

  it('a stale signed cookie before the live one does not shadow it (difference 7); at most three are looked up', async () => {
    const store = new session.MemoryStore()
    const running = await serve(
      app(session as never, { secret: SECRET, store, resave: false, saveUninitialized: false }),
    )
    const cookieOf = async () => {
      const client = new Client(running.url)
      await client.get('/inc')
      return client.jar.get('connect.sid')!
    }
    const stale = [await cookieOf(), await cookieOf(), await cookieOf()]
    for (const value of stale) delete store.sessions[sessionIdOf(value)]
    const live = await cookieOf()
    const gets: string[] = []
    const get = store.get.bind(store)
    store.get = (sid, callback) => {
      gets.push(sid)
      get(sid, callback)
    }
    const header = (values: string[]) => ({ cookie: values.map((v) => `connect.sid=${v}`).join('; ') })
    try {
      const reply = await send(`${running.url}/inc`, header([stale[0]!, stale[1]!, live]))
      assert.equal(JSON.parse(reply.body).n, 2, 'the live session was found behind two stale ones')
      assert.deepEqual(reply.setCookies, [], 'rolling is off and nothing new was made: no cookie')
      gets.length = 0
      const many = await send(`${running.url}/read`, header([...stale, stale[0]!, live]))
      assert.equal(JSON.parse(many.body).n, null, 'the fourth distinct one is not looked up')
      assert.equal(gets.length, 3, 'three distinct IDs, each read once')
    } finally {
      await running.close()
    }
  })

  it('option errors are express-session’s', () => {
    assert.throws(() => session({ genid: 'x' as never }), /genid option must be a function/)
    assert.throws(() => session({ unset: 'x' as never }), /unset option must be "destroy" or "keep"/)
    assert.throws(() => session({ secret: [] }), /secret option array must contain one or more strings/)
  })

  it('without a secret (nor cookie-parser’s req.secret) a request fails like express-session', async () => {
    const running = await serve(app(session as never, { resave: false, saveUninitialized: false }))
    const reply = await new Client(running.url).get('/read')
    await running.close()
    assert.equal(reply.status, 500)
  })
})
