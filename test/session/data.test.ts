import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { hashedKey, newToken, sign } from '../../src/core/token.ts'
import { send } from '../support/http.ts'
import { type Harness, keyOf, SECRET, startApp } from './harness.ts'

describe('session data safety', () => {
  let app: Harness
  before(async () => {
    app = await startApp({ maxBytes: 200 }, (express) => {
      express.get('/probe', (req, res) => {
        const copy = Object.assign({}, req.session.profile)
        res.json({
          polluted: ({} as Record<string, unknown>).polluted ?? null,
          copyPolluted: (copy as Record<string, unknown>).polluted ?? null,
          keys: Object.keys(req.session),
          profile: req.session.profile,
          constructorIsObject: {}.constructor === Object,
        })
      })
      express.post('/reserved/:name', (req, res) => {
        try {
          ;(req.session as Record<string, unknown>)[req.params.name as string] = 'x'
          res.json({ refused: false })
        } catch (error) {
          res.json({ refused: true, code: (error as { code?: string }).code })
        }
      })
    })
  })
  after(() => app.close())

  it('__proto__ and constructor in stored JSON are inert', async () => {
    const token = newToken()
    await app.inner.create(hashedKey(token), {
      data: {
        ['__proto__']: '{"polluted":"top"}',
        constructor: '{"prototype":{"polluted":"ctor"}}',
        profile: '{"name":"a","__proto__":{"polluted":"nested"},"constructor":{"prototype":{"polluted":"c"}}}',
        escaped: '{"\\u005f_proto__":{"polluted":"escaped"}}',
      },
      userId: null,
      meta: {},
      createdAt: app.clock.now(),
      lastSeenAt: app.clock.now(),
      expiresAt: app.clock.now() + 60_000,
      absoluteExpiresAt: app.clock.now() + 60_000,
    })
    const reply = await send(`${app.url}/probe`, { cookie: `sid=${encodeURIComponent(sign(token, SECRET))}` })
    assert.equal(reply.status, 200)
    const body = JSON.parse(reply.body)
    assert.equal(body.polluted, null)
    assert.equal(body.copyPolluted, null, 'merging stored data into a new object cannot set its prototype')
    assert.equal(body.constructorIsObject, true)
    assert.deepEqual(body.keys.sort(), ['escaped', 'profile'])
    assert.deepEqual(body.profile, { name: 'a' })
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
  })

  it('reserved names cannot be overwritten by data', async () => {
    for (const name of [
      'id',
      'userId',
      'regenerate',
      'destroy',
      'save',
      'reload',
      'touch',
      '__proto__',
      'constructor',
    ]) {
      const reply = await app.browser().post(`/reserved/${name}`)
      assert.deepEqual(JSON.parse(reply.body), { refused: true, code: 'RESERVED_KEY' }, name)
    }
    const ok = await app.browser().post('/reserved/theme')
    assert.deepEqual(JSON.parse(ok.body), { refused: false })
  })

  it('an oversized session is an error and nothing is partially written', async () => {
    const browser = app.browser()
    await browser.post('/session', { a: 'small' })
    const key = keyOf(browser)
    const before = await app.inner.get(key)
    app.spy.reset()
    const reply = await browser.post('/session', { a: 'changed', big: 'x'.repeat(300) })
    assert.equal(reply.status, 413)
    assert.equal(reply.body, 'Payload Too Large')
    assert.deepEqual(reply.setCookies, [])
    assert.equal(app.spy.count('update'), 0, 'the store was not asked to write anything')
    assert.deepEqual({ ...(await app.inner.get(key))?.data }, { ...before?.data })

    const fresh = await app.browser().post('/session', { big: 'x'.repeat(300) })
    assert.equal(fresh.status, 413)
    assert.equal(app.spy.count('create'), 0)
  })

  it('maxBytes holds for what is stored: concurrent requests cannot pass it together, and nothing loops on 500', async () => {
    const browser = app.browser()
    await browser.post('/session', { a: 1 })
    const cookie = browser.cookieHeader()
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        send(`${app.url}/session`, {
          method: 'POST',
          cookie,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ [`k${i}`]: 'x'.repeat(90) }),
        }),
      ),
    )
    const statuses = replies.map((r) => r.status).sort()
    assert.ok(
      statuses.every((s) => s === 200 || s === 413),
      statuses.join(','),
    )
    const stored = await app.inner.get(keyOf(browser))
    const bytes = Object.entries(stored!.data).reduce((n, [k, v]) => n + k.length + v.length, 0)
    assert.ok(bytes <= 200, `stored ${bytes} bytes under maxBytes 200`)
    assert.equal((await browser.post('/session', { a: 2 })).status, 200, 'the session stays writable')
  })

  it('a corrupted stored value reads as undefined instead of failing the request', async () => {
    const token = newToken()
    const now = app.clock.now()
    await app.inner.create(hashedKey(token), {
      data: { good: '1', bad: '{not json' },
      userId: null,
      meta: {},
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + 60_000,
      absoluteExpiresAt: now + 60_000,
    })
    const reply = await send(`${app.url}/session`, { cookie: `sid=${encodeURIComponent(sign(token, SECRET))}` })
    assert.equal(reply.status, 200)
    assert.deepEqual(JSON.parse(reply.body).data, { good: 1 })
  })
})

describe('nesting depth', () => {
  it('a value nested deeper than maxDepth is refused at write time with 413, and nothing is stored', async () => {
    const app = await startApp({ maxDepth: 8 })
    try {
      let deep: unknown = 1
      for (let i = 0; i < 9; i++) deep = { d: deep }
      const browser = app.browser()
      const reply = await browser.post('/session', { deep })
      assert.equal(reply.status, 413)
      assert.equal(app.spy.count('create'), 0)
      let ok: unknown = 1
      for (let i = 0; i < 7; i++) ok = { d: ok }
      assert.equal((await browser.post('/session', { ok })).status, 200, 'a value within the bound is stored')
    } finally {
      await app.close()
    }
  })
})
