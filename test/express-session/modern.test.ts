import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { RedisStore } from 'connect-redis'
import express from 'express'
import real from 'express-session'
import { createClient } from 'redis'
import { hashedKey } from '../../src/core/token.ts'
import { upgradeSessions } from '../../src/express-session/index.ts'
import { listSessions, logIn, memoryStore, session } from '../../src/index.ts'
import type { SessionOptions } from '../../src/session/options.ts'
import type { Running } from '../support/http.ts'
import { type RedisServer, startRedis } from '../support/redis.ts'
import { Client, serve, sessionIdOf } from './support.ts'
import { tutorialApp } from './tutorial.ts'

const MODERN_SECRET = 'a-modern-secret-of-at-least-32-characters'

// biome-ignore lint/suspicious/noExplicitAny: the routes read whatever the session holds
type Any = any

function modernApp(options: SessionOptions, upgrade?: Parameters<typeof upgradeSessions>[0]) {
  const app = express()
  if (upgrade) app.use(upgradeSessions(upgrade))
  app.use(session(options))
  app.get('/me', (req, res) => {
    const s = req.session as Any
    res.json({ userId: s.userId, views: s.views ?? null })
  })
  app.post('/put', (req, res) => {
    ;(req.session as Any).views = 41
    res.json({ ok: true })
  })
  app.post('/login', async (req, res) => {
    await logIn(req, 'u-ada')
    res.json({ ok: true })
  })
  app.get('/devices', async (req, res) => {
    res.json((await listSessions(req)).length)
  })
  return app
}

describe('modern mode with a store written for express-session, and the upgrade from drop-in mode', () => {
  let redis: RedisServer
  let client: ReturnType<typeof createClient>
  const running: Running[] = []
  const start = async (app: express.Express) => {
    const r = await serve(app)
    running.push(r)
    return r
  }

  before(async () => {
    redis = await startRedis()
    client = createClient({ url: redis.url })
    await client.connect()
  })
  after(async () => {
    for (const r of running) await r.close()
    await client?.quit()
    await redis?.stop()
  })

  it('modern session() takes a connect-redis store through the legacy adapter: hashed keys, users via all()', async () => {
    const store = new RedisStore({ client, prefix: 'modern:' })
    const browser = new Client((await start(modernApp({ secret: MODERN_SECRET, store: store as Any }))).url)
    await browser.post('/put')
    await browser.post('/login')
    assert.deepEqual(JSON.parse((await browser.get('/me')).body), { userId: 'u-ada', views: 41 })
    const token = decodeURIComponent(browser.jar.get('sid')!).slice(2).split('.')[0]!
    const stored = JSON.parse((await client.get(`modern:${hashedKey(token)}`))!)
    assert.equal(await client.exists(`modern:${token}`), 0, 'the raw token is never a key')
    assert.equal(stored.views, 41)
    assert.equal(stored.__coatcheck.userId, 'u-ada')
    assert.ok(Date.parse(stored.cookie.expires) > Date.now(), 'connect-redis’ TTL follows the deadline')
    assert.equal(JSON.parse((await browser.get('/devices')).body), 1, 'listSessions falls back to all()')
  })

  it('an express-session login is upgraded on first use: hashed key, user mapped, old session and cookie gone', async () => {
    const legacyStore = new RedisStore({ client, prefix: 'myapp:' })
    const old = await start(tutorialApp(real, legacyStore))
    const browser = new Client(old.url)
    await browser.post('/login', { username: 'ada', password: 'correct horse' })
    await browser.get('/dashboard')
    const oldCookie = browser.jar.get('connect.sid')!
    const oldId = sessionIdOf(oldCookie)

    const modernStore = memoryStore()
    const options: SessionOptions = { secret: MODERN_SECRET, store: modernStore }
    const upgraded = await start(modernApp(options, { session: options, store: legacyStore, secret: 'keyboard cat' }))
    browser.moveTo(upgraded.url)
    const first = await browser.get('/me')
    assert.deepEqual(JSON.parse(first.body), { userId: 'u-ada', views: 1 }, 'same user and data on the first request')
    assert.equal(browser.jar.has('connect.sid'), false, 'the old cookie is expired')
    assert.ok(browser.jar.has('sid'))
    assert.equal(await client.exists(`myapp:${oldId}`), 0, 'the raw-ID record is gone')
    assert.deepEqual(JSON.parse((await browser.get('/me')).body), { userId: 'u-ada', views: 1 })

    const replay = new Client(upgraded.url)
    replay.jar.set('connect.sid', oldCookie)
    assert.deepEqual(JSON.parse((await replay.get('/me')).body), { userId: null, views: null }, 'no replay')
    await modernStore.close?.()
  })
})
