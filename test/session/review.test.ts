import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import type { SessionEvent } from '../../src/events.ts'
import { logIn, memoryStore, requireAuth, revokeAllSessions } from '../../src/index.ts'
import type { CoatcheckStore } from '../../src/stores/types.ts'
import { Gate } from '../support/gate.ts'
import { send } from '../support/http.ts'
import { Once } from '../support/once.ts'
import { type Harness, keyOf, startApp } from './harness.ts'

/** Set-Cookie lines that would leave the browser holding a session cookie (not the ones that expire it). */
const liveSessionCookies = (lines: string[]) => lines.filter((c) => c.startsWith('sid=') && !/max-age=0/i.test(c))

describe('a failed regenerate({ keep: true }) after a revocation fails closed', () => {
  let app: Harness
  let once: Once
  let store: CoatcheckStore
  let gate: Gate
  const events: SessionEvent[] = []
  before(async () => {
    store = memoryStore()
    once = new Once(store)
    app = await startApp({ store: once.store, onEvent: (e) => events.push(e) }, (e) => {
      e.post('/login/:id', async (req, res) => {
        await logIn(req, req.params.id as string)
        res.json({ ok: true })
      })
      // A request already in flight when the user is revoked, which then renews its ID (a privilege change).
      e.post('/slow-keep', async (req, res) => {
        await gate.wait()
        await req.session.regenerate({ keep: true })
        res.json({ userId: req.session.userId })
      })
      e.get('/me', requireAuth(), (req, res) => {
        res.json({ userId: req.session.userId })
      })
    })
  })
  after(async () => {
    await app.close()
    await store.close?.()
  })

  for (const [method, what] of [
    ['create', 'the store create of the new ID fails once'],
    ['destroy', 'destroying the old ID throws'],
  ] as const) {
    it(`${what}: 503, no session cookie, nothing of the user left in the store`, async () => {
      const userId = `keep-${method}`
      gate = new Gate()
      const browser = app.browser()
      assert.equal((await browser.post(`/login/${userId}`)).status, 200)
      const slow = browser.post('/slow-keep')
      await gate.until(1)
      assert.equal(await revokeAllSessions(store, userId), 1, 'an admin disables the user')
      once.fail(method)
      events.length = 0
      gate.open()
      const reply = await slow
      assert.equal(reply.status, 503)
      assert.ok(events.some((e) => e.type === 'store-error'))
      assert.deepEqual(liveSessionCookies(reply.setCookies), [], 'the error response carries no session cookie')
      assert.deepEqual(await store.listByUser(userId), [], 'no logged-in record was left (or re-created) for them')
      assert.equal((await browser.get('/me')).status, 401)
    })
  }
})

describe('session writes within one request', () => {
  let app: Harness
  let once: Once
  let store: CoatcheckStore
  let gate: Gate
  before(async () => {
    store = memoryStore()
    once = new Once(store)
    app = await startApp({ store: once.store }, (e) => {
      e.post('/bump', async (req, res) => {
        req.session.count = 1
        const saving = req.session.save() // not awaited yet: its update is held in the store
        await gate.until(1)
        req.session.count = 2 // assigned while that write is in flight
        gate.open()
        await saving
        res.json({ count: req.session.count })
      })
    })
  })
  after(async () => {
    await app.close()
    await store.close?.()
  })

  it('a key assigned while an unawaited save() is in flight is written by the commit', async () => {
    gate = new Gate()
    const browser = app.browser()
    await browser.post('/session', { count: 0 })
    once.next('update', () => gate.wait())
    const reply = await browser.post('/bump')
    assert.equal(reply.status, 200)
    assert.deepEqual(JSON.parse(reply.body), { count: 2 })
    assert.equal((await store.get(keyOf(browser)))?.data.count, '2', 'the store holds the later value')
    assert.equal(JSON.parse((await browser.get('/session')).body).data.count, 2)
  })
})

describe('hostile cookies and values', () => {
  let app: Harness
  const events: SessionEvent[] = []
  before(async () => {
    app = await startApp({ onEvent: (e) => events.push(e) }, (e) => {
      // A client-sent JSON value, parsed by the app with a larger limit than the harness's JSON parser.
      e.post('/prefs', express.text({ limit: '1mb' }), (req, res) => {
        req.session.prefs = JSON.parse(req.body as string)
        res.json({ ok: true })
      })
    })
  })
  after(() => app.close())

  /** The signed cookie of a session that was stored and then destroyed. */
  async function staleCookie(): Promise<string> {
    const browser = app.browser()
    await browser.post('/session', { cart: [1] })
    const cookie = `sid=${browser.jar.get('sid')}`
    assert.equal((await browser.post('/destroy')).status, 200)
    return cookie
  }

  it('a Cookie header repeating one stale signed cookie 150 times costs at most 3 store lookups', async () => {
    const header = Array(150)
      .fill(await staleCookie())
      .join('; ')
    app.spy.reset()
    const reply = await send(`${app.url}/ping`, { cookie: header })
    assert.equal(reply.status, 200)
    assert.equal(reply.body, 'pong')
    assert.ok(app.spy.count('get') <= 3, `${app.spy.count('get')} store.get calls for one request`)
  })

  it('a Cookie header of 5 distinct stale signed cookies, 30 times each, costs at most 3 store lookups', async () => {
    const stale = await Promise.all(Array.from({ length: 5 }, () => staleCookie()))
    const header = Array.from({ length: 150 }, (_, i) => stale[i % 5]).join('; ')
    app.spy.reset()
    const reply = await send(`${app.url}/ping`, { cookie: header })
    assert.equal(reply.status, 200)
    assert.ok(app.spy.count('get') <= 3, `${app.spy.count('get')} store.get calls for one request`)
  })

  for (const depth of [5_000, 200_000]) {
    it(`a value nested ${depth} deep answers 413, never 503; the stored session is unchanged`, async () => {
      const browser = app.browser()
      await browser.post('/session', { a: 1 })
      events.length = 0
      const reply = await browser.request('/prefs', {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: '['.repeat(depth) + ']'.repeat(depth),
      })
      assert.equal(reply.status, 413)
      assert.deepEqual(
        events.filter((e) => e.type === 'store-error'),
        [],
      )
      assert.deepEqual(JSON.parse((await browser.get('/session')).body).data, { a: 1 })
    })
  }
})

describe('a session stored above maxBytes (under a larger bound before)', () => {
  let store: CoatcheckStore
  let roomy: Harness
  let tight: Harness
  const big = 'x'.repeat(900)
  before(async () => {
    store = memoryStore()
    roomy = await startApp({ store, maxBytes: 4000 })
    tight = await startApp({ store, maxBytes: 1000 }) // the next deploy lowered the bound
  })
  after(async () => {
    await roomy.close()
    await tight.close()
    await store.close?.()
  })

  it('may shrink by a deleted key, but not grow', async () => {
    const filling = roomy.browser()
    assert.equal((await filling.post('/session', { a: big, b: big, c: big })).status, 200)
    const browser = tight.browser()
    browser.jar.set('sid', filling.jar.get('sid')!)
    const key = keyOf(browser)

    const dropped = await browser.request('/session/c', { method: 'DELETE' })
    assert.equal(dropped.status, 200, 'about 2.7 kB down to about 1.8 kB: the change applies')
    assert.deepEqual(Object.keys((await store.get(key))!.data).sort(), ['a', 'b'])

    assert.equal((await browser.post('/session', { d: 'more' })).status, 413, 'a growing change is still refused')
    assert.deepEqual(Object.keys((await store.get(key))!.data).sort(), ['a', 'b'])
  })

  it('may shrink by a change whose new value alone is past the bound', async () => {
    const filling = roomy.browser()
    assert.equal((await filling.post('/session', { a: big, b: big, c: big })).status, 200)
    const browser = tight.browser()
    browser.jar.set('sid', filling.jar.get('sid')!)
    // About 2.7 kB down to about 1.06 kB: one value of 1 050 bytes is more than maxBytes, the session still shrinks.
    const cut = await browser.post('/session', { a: 'y'.repeat(1050), b: 1, c: 1 })
    assert.equal(cut.status, 200)
    assert.deepEqual({ ...(await store.get(keyOf(browser)))!.data }, { a: `"${'y'.repeat(1050)}"`, b: '1', c: '1' })
    const grown = await browser.post('/session', { b: 'z'.repeat(100) })
    assert.equal(grown.status, 413, 'the change alone is under the bound; the store refuses the whole')
    assert.match(grown.body, /Payload Too Large/)
  })
})
