import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { hashedKey } from '../../src/core/token.ts'
import { type Harness, keyOf, startApp, tokenOf } from './harness.ts'

describe('session lifecycle', () => {
  let app: Harness
  before(async () => {
    app = await startApp()
  })
  after(() => app.close())

  it('a new session that gets no data sends no cookie and stores nothing', async () => {
    app.spy.reset()
    const reply = await app.browser().get('/session')
    assert.equal(reply.status, 200)
    assert.deepEqual(reply.setCookies, [])
    assert.equal(app.spy.total(), 0)
  })

  it('a session with data is stored under the SHA-256 of its token and the cookie carries the signed token', async () => {
    const browser = app.browser()
    const reply = await browser.post('/session', { cart: ['apple'] })
    assert.equal(reply.setCookies.length, 1)
    const cookie = reply.setCookies[0]!
    assert.match(cookie, /^sid=s%3A[A-Za-z0-9_-]{43}\.[A-Za-z0-9%]+; Path=\/; Max-Age=86400; HttpOnly; SameSite=Lax$/)
    const token = tokenOf(browser)
    assert.equal(await app.inner.get(token), undefined, 'the raw token is not a store key')
    const record = await app.inner.get(hashedKey(token))
    assert.deepEqual({ ...record?.data }, { cart: '["apple"]' })
    assert.equal(record?.userId, null)

    const read = JSON.parse((await browser.get('/session')).body)
    assert.deepEqual(read.data, { cart: ['apple'] })
    assert.equal(read.id, hashedKey(token), 'req.session.id is the store key, not the token')
  })

  it('a read-only request on an existing session writes nothing and sends no cookie', async () => {
    const browser = app.browser()
    await browser.post('/session', { a: 1 })
    app.spy.reset()
    const reply = await browser.get('/session')
    assert.deepEqual(reply.setCookies, [])
    assert.deepEqual(app.spy.calls, { get: 1 })
  })

  it('saves only changed keys as a patch, and unsets deleted ones', async () => {
    const browser = app.browser()
    await browser.post('/session', { a: 1, b: { deep: true } })
    await browser.post('/session', { a: 2 })
    await browser.request('/session/b', { method: 'DELETE' })
    const record = await app.inner.get(keyOf(browser))
    assert.deepEqual({ ...record?.data }, { a: '2' })
  })

  it('detects in-place mutation of a nested object', async () => {
    const browser = app.browser()
    await browser.post('/session', { cart: ['a'] })
    await browser.post('/cart/b')
    assert.equal((await app.inner.get(keyOf(browser)))?.data.cart, '["a","b"]')
  })

  it('regenerate gives a new ID, deletes the old key and keeps data only when asked', async () => {
    const browser = app.browser()
    await browser.post('/session', { a: 1 })
    const oldKey = keyOf(browser)
    const dropped = await browser.post('/regenerate')
    assert.equal(dropped.status, 200)
    assert.equal(await app.inner.get(oldKey), undefined, 'old record is gone')
    // Without keep the new session is empty, so nothing is stored and the old cookie is expired.
    assert.equal(dropped.setCookies.length, 1)
    assert.match(dropped.setCookies[0]!, /^sid=; Path=\/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT/)
    assert.equal(browser.jar.has('sid'), false)

    await browser.post('/session', { a: 2 })
    const before = keyOf(browser)
    const kept = await browser.post('/regenerate?keep=1')
    const after = keyOf(browser)
    assert.notEqual(after, before)
    assert.equal(JSON.parse(kept.body).id, after)
    assert.equal(await app.inner.get(before), undefined)
    assert.deepEqual({ ...(await app.inner.get(after))?.data }, { a: '2' })
    assert.deepEqual(JSON.parse((await browser.get('/session')).body).data, { a: 2 })
  })

  it('destroy deletes the record, expires the cookie and the old cookie is anonymous afterwards', async () => {
    const browser = app.browser()
    await browser.post('/session', { a: 1 })
    const cookie = browser.cookieHeader()
    const key = keyOf(browser)
    const reply = await browser.post('/destroy')
    assert.match(reply.setCookies[0] ?? '', /^sid=; Path=\/; Max-Age=0/)
    assert.equal(await app.inner.get(key), undefined)
    const replay = await fetch(`${app.url}/session`, { headers: { cookie } })
    const body = (await replay.json()) as { data: unknown; id: string }
    assert.deepEqual(body.data, {})
    assert.notEqual(body.id, key)
  })
})
