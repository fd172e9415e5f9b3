import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CoatcheckError } from '../../src/errors.ts'
import type { SessionEvent } from '../../src/events.ts'
import { type Harness, keyOf, startApp } from './harness.ts'

describe('store failures fail closed', () => {
  let app: Harness
  const events: SessionEvent[] = []
  const errors: unknown[] = []
  before(async () => {
    app = await startApp({ storeTimeout: 100, onEvent: (e) => events.push(e) }, (express) => {
      express.get('/late', (req, res) => {
        res.write('headers and a first chunk are out; ')
        req.session.late = true
        res.end('this change comes too late to be stored')
      })
      express.get('/stream', (req, res) => {
        req.session.streamed = true
        res.write('first chunk ')
        res.end('last chunk')
      })
    })
  })
  after(() => app.close())

  it('a failing get answers 503 through next(err) with a CoatcheckError; the server stays up', async () => {
    const browser = app.browser()
    await browser.post('/session', { a: 1 })
    for (const how of ['reject', 'throw'] as const) {
      app.spy.fail('get', how)
      const reply = await browser.get('/session')
      assert.equal(reply.status, 503)
      assert.doesNotMatch(reply.body, /"data"/, 'the handler never ran')
      app.spy.heal()
    }
    assert.deepEqual(JSON.parse((await browser.get('/session')).body).data, { a: 1 }, 'recovers without a restart')
    const failure = events.find((e) => e.type === 'store-error')?.error
    assert.ok(failure instanceof CoatcheckError)
    assert.equal(failure.code, 'STORE_ERROR')
    assert.equal(failure.status, 503)
    assert.ok(failure.cause instanceof Error)
  })

  it('a store slower than storeTimeout answers 503 (STORE_TIMEOUT)', async () => {
    const browser = app.browser()
    await browser.post('/session', { a: 1 })
    events.length = 0
    app.spy.fail('get', 'hang')
    const reply = await browser.get('/session')
    app.spy.heal()
    assert.equal(reply.status, 503)
    assert.equal((events[0]!.error as CoatcheckError).code, 'STORE_TIMEOUT')
  })

  it('a failing create turns the response into a generic 503 without Set-Cookie', async () => {
    app.spy.fail('create')
    const reply = await app.browser().post('/session', { a: 1 })
    app.spy.heal()
    assert.equal(reply.status, 503)
    assert.equal(reply.body, 'Service Unavailable')
    assert.deepEqual(reply.setCookies, [])
    assert.equal(reply.headers.get('cache-control'), 'no-store')
    assert.equal(reply.headers.get('etag'), null, 'headers the handler set are gone')
  })

  it('a failing update answers 503, keeps the stored data and leaves the session usable', async () => {
    const browser = app.browser()
    await browser.post('/session', { a: 1 })
    app.spy.fail('update')
    const reply = await browser.post('/session', { a: 2 })
    app.spy.heal()
    assert.equal(reply.status, 503)
    assert.deepEqual(reply.setCookies, [])
    assert.equal((await app.inner.get(keyOf(browser)))?.data.a, '1')
    assert.equal((await browser.post('/session', { a: 3 })).status, 200)
    assert.equal((await app.inner.get(keyOf(browser)))?.data.a, '3')
  })

  it('a streamed response waits for the commit; on failure none of its bytes leave', async () => {
    const ok = await app.browser().get('/stream')
    assert.equal(ok.status, 200)
    assert.equal(ok.body, 'first chunk last chunk')
    assert.equal(ok.setCookies.length, 1)
    app.spy.fail('create')
    const failed = await app.browser().get('/stream')
    app.spy.heal()
    assert.equal(failed.status, 503)
    assert.equal(failed.body, 'Service Unavailable')
  })

  it('a change made after the first byte left is not stored (there is no response left to hold)', async () => {
    const warnings: Array<{ code?: string }> = []
    const onWarning = (w: Error & { code?: string }) => warnings.push(w)
    process.on('warning', onWarning)
    const browser = app.browser()
    await browser.post('/session', { a: 1 })
    const reply = await browser.get('/late')
    await browser.get('/late')
    await new Promise((resolve) => setImmediate(resolve))
    process.off('warning', onWarning)
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['COATCHECK_LATE_CHANGE'],
      'said once',
    )
    assert.equal(reply.status, 200)
    assert.deepEqual(reply.setCookies, [])
    assert.deepEqual({ ...(await app.inner.get(keyOf(browser)))?.data }, { a: '1' })
  })

  it('no unhandled rejection or crash happened along the way', () => {
    assert.deepEqual(errors, [])
  })

  process.on('unhandledRejection', (reason) => errors.push(reason))
})
