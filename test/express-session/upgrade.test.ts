import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import express from 'express'
import real from 'express-session'
import { upgradeSessions } from '../../src/express-session/index.ts'
import { CoatcheckError, logIn, memoryStore, session } from '../../src/index.ts'
import type { SessionOptions } from '../../src/session/options.ts'
import { type Running, send } from '../support/http.ts'
import { Client, SECRET, serve, sessionIdOf } from './support.ts'

const MODERN_SECRET = 'a-modern-secret-of-at-least-32-characters'
type OldStore = InstanceType<typeof real.MemoryStore>

describe('upgradeSessions', () => {
  const running: Running[] = []
  after(async () => {
    for (const r of running) await r.close()
  })

  /** An express-session app on `legacy` whose `POST /set` assigns `fields(req)` to the session. */
  async function oldApp(legacy: OldStore, fields: (req: express.Request) => Record<string, unknown>) {
    const old = express()
    old.use(express.json())
    old.use(real({ secret: SECRET, store: legacy, resave: false, saveUninitialized: false }))
    old.post('/set', (req, res) => {
      Object.assign(req.session, fields(req))
      res.json({ ok: true })
    })
    const server = await serve(old)
    running.push(server)
    return server.url
  }

  /** A modern app that upgrades sessions from `legacy` into `store`, with `routes` after session(). */
  async function modernApp(legacy: OldStore, routes: (app: express.Express) => void, store = memoryStore()) {
    const options: SessionOptions = { secret: MODERN_SECRET, store }
    const modern = express()
    modern.use(upgradeSessions({ session: options, store: legacy, secret: SECRET }))
    modern.use(session(options))
    routes(modern)
    const server = await serve(modern)
    running.push(server)
    return server.url
  }

  const me = (app: express.Express) => app.get('/me', (req, res) => res.json({ userId: req.session.userId }))

  it('maps only a non-empty string or non-zero number to a user: 0 and "" meant nobody in old apps', async () => {
    const legacy = new real.MemoryStore()
    const oldUrl = await oldApp(legacy, (req) => ({ userId: req.body.userId }))
    const modernUrl = await modernApp(legacy, me)

    const outcomes: unknown[] = []
    for (const userId of [0, '', null, 'u-1', 7]) {
      const browser = new Client(oldUrl)
      await browser.request('/set', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId }),
      })
      browser.moveTo(modernUrl)
      outcomes.push(JSON.parse((await browser.get('/me')).body).userId)
    }
    assert.deepEqual(outcomes, [null, null, null, 'u-1', '7'])
  })

  it('a data key longer than modern mode lets an app set is carried over, and through the first logIn', async () => {
    // express-session allows any key; modern mode refuses to *set* one over 128 characters, but one the store already
    // holds is carried as it is (it used to make logIn fail with a 500 INVALID_KEY).
    const long = `k${'e'.repeat(199)}`
    const legacy = new real.MemoryStore()
    const oldUrl = await oldApp(legacy, () => ({ [long]: 'kept' }))
    const modernUrl = await modernApp(legacy, (modern) => {
      modern.post('/login', async (req, res, next) => {
        try {
          await logIn(req, 'u-9')
          res.json({ value: req.session[long] })
        } catch (error) {
          next(error)
        }
      })
      modern.get('/me', (req, res) => res.json({ userId: req.session.userId, value: req.session[long] }))
      modern.use((error: { code?: string }, _req: unknown, res: express.Response, _next: unknown) => {
        res.status(500).json({ code: error.code })
      })
    })

    const browser = new Client(oldUrl)
    await browser.request('/set', { method: 'POST' })
    browser.moveTo(modernUrl)
    const login = await browser.request('/login', { method: 'POST' })
    assert.equal(login.status, 200, login.body)
    assert.deepEqual(JSON.parse(login.body), { value: 'kept' })
    assert.deepEqual(JSON.parse((await browser.get('/me')).body), { userId: 'u-9', value: 'kept' })
  })

  it('two concurrent requests with one old cookie make one modern session, not two', async () => {
    const legacy = new real.MemoryStore()
    // A store with some latency, so both requests read the old session before either deletes it.
    const slow =
      <A extends unknown[]>(fn: (...args: A) => void) =>
      (...args: A) =>
        setTimeout(() => fn(...args), 30)
    const get = legacy.get.bind(legacy)
    const destroy = legacy.destroy.bind(legacy)
    legacy.get = slow(get)
    legacy.destroy = slow(destroy)
    const oldUrl = await oldApp(legacy, () => ({ userId: 'u-2' }))
    const store = memoryStore()
    const modernUrl = await modernApp(legacy, me, store)

    const browser = new Client(oldUrl)
    await browser.request('/set', { method: 'POST' })
    browser.moveTo(modernUrl)
    const oldCookie = browser.jar.get('connect.sid')!
    const replies = await Promise.all([0, 1].map(() => send(`${modernUrl}/me`, { cookie: `connect.sid=${oldCookie}` })))
    const users = replies.map((r) => JSON.parse(r.body).userId)
    assert.deepEqual(users.sort(), [null, 'u-2'], 'one request moved it; the other is anonymous')
    const withCookie = replies.filter((r) => r.setCookies.some((c) => c.startsWith('sid=s')))
    assert.equal(withCookie.length, 1, 'only the winner sets a modern cookie')
    assert.equal((await store.listByUser('u-2')).length, 1, 'one modern session for the old one')
  })

  it('a read that fails inside the move (a store blip) keeps the session: the copy is the only one left', async () => {
    const legacy = new real.MemoryStore()
    const oldUrl = await oldApp(legacy, () => ({ userId: 'u-3', cart: [1, 2] }))
    const browser = new Client(oldUrl)
    await browser.request('/set', { method: 'POST' })
    // From now on the second get fails once: the read the adapter makes inside its destroy.
    let gets = 0
    const get = legacy.get.bind(legacy)
    legacy.get = (sid: string, callback: (error: unknown, session?: unknown) => void) =>
      ++gets === 2 ? callback(new Error('blip')) : get(sid, callback as never)

    const modernUrl = await modernApp(legacy, (modern) =>
      modern.get('/me', (req, res) => res.json({ userId: req.session.userId, cart: req.session.cart })),
    )
    browser.moveTo(modernUrl)
    const reply = await browser.get('/me')
    assert.equal(gets, 2, 'the blip happened where it should')
    assert.deepEqual(JSON.parse(reply.body), { userId: 'u-3', cart: [1, 2] })
    assert.ok(
      browser.jar.has('sid') && !browser.jar.has('connect.sid'),
      'moved: the modern cookie set, the old expired',
    )
    assert.deepEqual(JSON.parse((await browser.get('/me')).body), { userId: 'u-3', cart: [1, 2] })
  })

  it('with a stale old cookie before the live one, the live one is moved (as the drop-in face picks it)', async () => {
    const legacy = new real.MemoryStore()
    const oldUrl = await oldApp(legacy, (req) => ({ userId: req.query.user }))
    const cookieOf = async (user: string) => {
      const client = new Client(oldUrl)
      await client.request(`/set?user=${user}`, { method: 'POST' })
      return client.jar.get('connect.sid')!
    }
    const stale = await cookieOf('gone')
    await new Promise((done) => legacy.destroy(sessionIdOf(stale), done))
    const live = await cookieOf('u-4')

    const modernUrl = await modernApp(legacy, me)
    const reply = await send(`${modernUrl}/me`, { cookie: `connect.sid=${stale}; connect.sid=${live}` })
    assert.deepEqual(JSON.parse(reply.body), { userId: 'u-4' })
    assert.ok(reply.setCookies.some((c) => c.startsWith('sid=s')))
  })

  it('rejects an unknown option, naming the nearest one', () => {
    const options = { secret: MODERN_SECRET, store: memoryStore() }
    assert.throws(
      () => upgradeSessions({ session: options, store: new real.MemoryStore(), secret: SECRET, nmae: 'x' } as never),
      (error: unknown) =>
        error instanceof CoatcheckError && error.code === 'INVALID_OPTION' && /did you mean `name`/.test(error.message),
    )
  })
})
