import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Gate } from '../support/gate.ts'
import { send } from '../support/http.ts'
import { type Harness, keyOf, startApp } from './harness.ts'

describe('concurrent requests', () => {
  let app: Harness
  let gate: Gate
  before(async () => {
    app = await startApp({}, (express) => {
      express.post('/slow/:key', async (req, res) => {
        await gate.wait()
        req.session[req.params.key as string] = true
        res.json({ ok: true })
      })
    })
  })
  after(() => app.close())

  it('two requests changing different keys both persist', async () => {
    gate = new Gate()
    const browser = app.browser()
    await browser.post('/session', { base: 1 })
    const cookie = browser.cookieHeader()
    const first = send(`${app.url}/slow/x`, { method: 'POST', cookie })
    const second = send(`${app.url}/slow/y`, { method: 'POST', cookie })
    await gate.until(2)
    gate.open()
    assert.deepEqual(
      (await Promise.all([first, second])).map((r) => r.status),
      [200, 200],
    )
    const record = await app.inner.get(keyOf(browser))
    assert.deepEqual({ ...record?.data }, { base: '1', x: 'true', y: 'true' })
  })

  it('a request that loaded the session before a logout does not recreate it', async () => {
    gate = new Gate()
    const browser = app.browser()
    await browser.post('/session', { base: 1 })
    const key = keyOf(browser)
    const cookie = browser.cookieHeader()
    const slow = send(`${app.url}/slow/x`, { method: 'POST', cookie })
    await gate.until(1)
    const logout = await send(`${app.url}/destroy`, { method: 'POST', cookie })
    assert.equal(logout.status, 200)
    app.spy.reset()
    gate.open()
    const reply = await slow
    assert.equal(reply.status, 200)
    assert.equal(await app.inner.get(key), undefined, 'the destroyed record stays destroyed')
    assert.equal(app.spy.count('create'), 0, 'no new session was created in its place')
    assert.equal(app.spy.count('update'), 1)
    assert.deepEqual(
      reply.setCookies,
      [],
      'no Set-Cookie: a concurrent regenerate may have given the browser a new cookie',
    )
  })
})

describe('writes that overlap within one request', () => {
  it('an unawaited save() racing the commit stores the new session once and answers normally', async (t) => {
    const app = await startApp({}, (express) => {
      express.post('/save-and-go', (req, res) => {
        req.session.cart = ['a']
        void req.session.save()
        res.json({ ok: true })
      })
    })
    t.after(() => app.close())
    const browser = app.browser()
    const reply = await browser.post('/save-and-go')
    assert.equal(reply.status, 200)
    assert.equal(reply.setCookies.length, 1)
    assert.equal(app.spy.count('create'), 1)
    assert.equal((await app.inner.get(keyOf(browser)))?.data.cart, '["a"]')
  })

  it('an unawaited save() that fails does not crash the process; the response is a 503', async (t) => {
    const app = await startApp({}, (express) => {
      express.post('/save-and-go', (req, res) => {
        req.session.cart = ['a']
        req.session.save()
        res.json({ ok: true })
      })
    })
    t.after(() => app.close())
    const rejections: unknown[] = []
    const onRejection = (reason: unknown) => rejections.push(reason)
    process.on('unhandledRejection', onRejection)
    t.after(() => process.off('unhandledRejection', onRejection))
    app.spy.fail('create')
    const reply = await app.browser().post('/save-and-go')
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(reply.status, 503)
    assert.deepEqual(rejections, [])
  })
})
