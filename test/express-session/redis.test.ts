import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { RedisStore } from 'connect-redis'
import real from 'express-session'
import { createClient } from 'redis'
import dropIn from '../../src/express-session/index.ts'
import type { Running } from '../support/http.ts'
import { type RedisServer, startRedis } from '../support/redis.ts'
import { Client, serve, sessionIdOf } from './support.ts'
import { tutorialApp } from './tutorial.ts'

const LOGIN = { username: 'ada', password: 'correct horse' }

describe('connect-redis (real redis-server): migration to the drop-in face and back', () => {
  let redis: RedisServer
  let client: ReturnType<typeof createClient>
  const running: Running[] = []
  const start = async (session: unknown) => {
    const app = await serve(tutorialApp(session, new RedisStore({ client, prefix: 'myapp:' })))
    running.push(app)
    return app
  }

  before(async () => {
    redis = await startRedis()
    client = createClient({ url: redis.url })
    await client.connect()
  })
  after(async () => {
    for (const app of running) await app.close()
    await client?.quit()
    await redis?.stop()
  })

  for (const [label, session] of [
    ['express-session', real],
    ['coatcheck/express-session', dropIn],
  ] as const) {
    it(`the tutorial runs on ${label}: login, requireAuth, logout`, async () => {
      const app = await start(session)
      const browser = new Client(app.url)
      assert.equal((await browser.get('/dashboard')).status, 401)
      assert.equal((await browser.post('/login', { ...LOGIN, password: 'wrong' })).status, 401)
      const login = await browser.post('/login', LOGIN)
      assert.equal(login.status, 302)
      assert.equal(login.headers.get('location'), '/dashboard')
      assert.equal((await browser.get('/dashboard')).body, 'Welcome u-ada, view 1')
      assert.equal((await browser.get('/dashboard')).body, 'Welcome u-ada, view 2')
      const id = sessionIdOf(browser.jar.get('connect.sid')!)
      assert.ok(await client.exists(`myapp:${id}`), 'stored under connect-redis’ key')
      assert.equal((await browser.post('/logout')).status, 302)
      assert.equal(browser.jar.has('connect.sid'), false, 'clearCookie expired it')
      assert.equal(await client.exists(`myapp:${id}`), 0)
      assert.equal((await browser.get('/dashboard')).status, 401)
    })
  }

  it('sessions created by express-session are read by the drop-in face (still logged in), and back', async () => {
    const before = await start(real)
    const browser = new Client(before.url)
    await browser.post('/login', LOGIN)
    assert.equal((await browser.get('/dashboard')).body, 'Welcome u-ada, view 1')
    const id = sessionIdOf(browser.jar.get('connect.sid')!)
    const writtenByExpressSession = JSON.parse((await client.get(`myapp:${id}`))!)

    const after = await start(dropIn)
    browser.moveTo(after.url)
    assert.equal((await browser.get('/dashboard')).body, 'Welcome u-ada, view 2', 'same session after the switch')
    const writtenByDropIn = JSON.parse((await client.get(`myapp:${id}`))!)
    assert.deepEqual(Object.keys(writtenByDropIn).sort(), Object.keys(writtenByExpressSession).sort())
    assert.deepEqual(writtenByDropIn.cookie.originalMaxAge, writtenByExpressSession.cookie.originalMaxAge)
    const ttl = await client.ttl(`myapp:${id}`)
    assert.ok(ttl > 86_000 && ttl <= 86_400, `TTL follows cookie.expires (${ttl})`)

    // Rollback: the old code reads what the drop-in face wrote.
    browser.moveTo(before.url)
    assert.equal((await browser.get('/dashboard')).body, 'Welcome u-ada, view 3', 'rollback keeps the session')
  })

  it('a login made on the drop-in face survives a rollback to express-session', async () => {
    const browser = new Client((await start(dropIn)).url)
    await browser.post('/login', LOGIN)
    assert.equal((await browser.get('/dashboard')).body, 'Welcome u-ada, view 1')
    browser.moveTo((await start(real)).url)
    assert.equal((await browser.get('/dashboard')).body, 'Welcome u-ada, view 2')
    assert.equal((await browser.post('/logout')).status, 302)
  })
})
