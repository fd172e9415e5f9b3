import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { SessionEvent } from '../../src/events.ts'
import { keyOf, startApp } from './harness.ts'

const MINUTE = 60_000
const HOUR = 60 * MINUTE

function maxAge(setCookie: string | undefined): number | undefined {
  const match = /Max-Age=(\d+)/.exec(setCookie ?? '')
  return match ? Number(match[1]) : undefined
}

describe('expiry (injected clock)', () => {
  it('an idle session expires after idleTimeout; activity slides the deadline', async (t) => {
    const events: SessionEvent[] = []
    const app = await startApp({ idleTimeout: HOUR, absoluteTimeout: 8 * HOUR, onEvent: (e) => events.push(e) })
    t.after(() => app.close())
    const browser = app.browser()
    const created = await browser.post('/session', { a: 1 })
    assert.equal(maxAge(created.setCookies[0]), 3600)
    const key = keyOf(browser)

    app.clock.advance(59 * MINUTE)
    const active = await browser.get('/session')
    assert.deepEqual(JSON.parse(active.body).data, { a: 1 })
    assert.equal(maxAge(active.setCookies[0]), 3600, 'the touch re-sends the cookie with the slid deadline')
    assert.equal((await app.inner.get(key))?.expiresAt, app.clock.now() + HOUR)

    app.clock.advance(59 * MINUTE)
    assert.deepEqual(JSON.parse((await browser.get('/session')).body).data, { a: 1 }, 'still alive: the deadline slid')

    app.clock.advance(HOUR)
    const expired = await browser.get('/session')
    assert.deepEqual(JSON.parse(expired.body).data, {})
    assert.match(expired.setCookies[0] ?? '', /^sid=; .*Max-Age=0/)
    assert.equal(await app.inner.get(key), undefined, 'the expired record is removed')
    assert.deepEqual(
      events.filter((e) => e.type === 'expired').map((e) => e.reason),
      ['idle'],
    )
  })

  it('the absolute timeout ends an active session, and the cookie Max-Age follows it', async (t) => {
    const events: SessionEvent[] = []
    const app = await startApp({ idleTimeout: HOUR, absoluteTimeout: 3 * HOUR, onEvent: (e) => events.push(e) })
    t.after(() => app.close())
    const browser = app.browser()
    await browser.post('/session', { a: 1 })
    const maxAges: Array<number | undefined> = []
    for (let elapsed = 0; elapsed < 150; elapsed += 50) {
      app.clock.advance(50 * MINUTE)
      const reply = await browser.get('/session')
      assert.deepEqual(JSON.parse(reply.body).data, { a: 1 })
      maxAges.push(maxAge(reply.setCookies[0]))
    }
    // At 2h30 the slid idle deadline (3h30) passes the absolute one (3h): the cookie follows the earlier.
    assert.deepEqual(maxAges, [3600, 3600, 30 * 60])
    app.clock.advance(20 * MINUTE)
    const capped = await browser.get('/session')
    assert.deepEqual(capped.setCookies, [], 'no new deadline, so no new cookie')
    app.clock.advance(10 * MINUTE)
    assert.deepEqual(JSON.parse((await browser.get('/session')).body).data, {})
    assert.deepEqual(
      events.filter((e) => e.type === 'expired').map((e) => e.reason),
      ['absolute'],
    )
  })

  it('with rolling: false the session lives idleTimeout from creation, whatever the activity', async (t) => {
    const app = await startApp({ idleTimeout: HOUR, rolling: false })
    t.after(() => app.close())
    const browser = app.browser()
    await browser.post('/session', { a: 1 })
    app.spy.reset()
    app.clock.advance(30 * MINUTE)
    const mid = await browser.get('/session')
    assert.deepEqual(mid.setCookies, [])
    app.clock.advance(29 * MINUTE)
    assert.deepEqual(JSON.parse((await browser.get('/session')).body).data, { a: 1 })
    assert.equal(app.spy.count('touch'), 0)
    app.clock.advance(2 * MINUTE)
    assert.deepEqual(JSON.parse((await browser.get('/session')).body).data, {})
  })

  it('lazy touch: activity is written only once touchAfter has passed since the last write', async (t) => {
    const app = await startApp({ idleTimeout: HOUR, touchAfter: 10 * MINUTE })
    t.after(() => app.close())
    const browser = app.browser()
    await browser.post('/session', { a: 1 })
    const key = keyOf(browser)
    app.spy.reset()
    for (let i = 0; i < 9; i++) {
      app.clock.advance(MINUTE)
      const reply = await browser.get('/session')
      assert.deepEqual(reply.setCookies, [])
    }
    assert.equal(app.spy.count('touch'), 0)
    assert.equal(app.spy.count('update'), 0)
    app.clock.advance(MINUTE)
    const due = await browser.get('/session')
    assert.equal(app.spy.count('touch'), 1)
    assert.equal(maxAge(due.setCookies[0]), 3600)
    assert.equal((await app.inner.get(key))?.lastSeenAt, app.clock.now())

    // A data change before the next touch is due writes the data but not the deadline.
    app.clock.advance(MINUTE)
    const changed = await browser.post('/session', { b: 2 })
    assert.deepEqual(changed.setCookies, [])
    const record = await app.inner.get(key)
    assert.equal(record?.data.b, '2')
    assert.equal(record?.lastSeenAt, app.clock.now() - MINUTE)
  })

  it('touch() writes activity at once, even before it is due', async (t) => {
    const app = await startApp({ idleTimeout: HOUR }, (express) => {
      express.post('/touch', async (req, res) => {
        await req.session.touch()
        res.json({ ok: true })
      })
    })
    t.after(() => app.close())
    const browser = app.browser()
    await browser.post('/session', { a: 1 })
    app.clock.advance(1000)
    const reply = await browser.post('/touch')
    assert.equal((await app.inner.get(keyOf(browser)))?.lastSeenAt, app.clock.now())
    assert.equal(maxAge(reply.setCookies[0]), 3600)
  })

  it('regenerate({ keep: true }) gives a new ID but never a new absolute deadline', async (t) => {
    const app = await startApp({ idleTimeout: HOUR, absoluteTimeout: 10 * MINUTE }, (express) => {
      express.post('/elevate', async (req, res) => {
        await req.session.regenerate({ keep: true })
        res.json({ ok: true })
      })
    })
    t.after(() => app.close())
    const browser = app.browser()
    await browser.post('/session', { a: 1 })
    for (let i = 0; i < 2; i++) {
      app.clock.advance(4 * MINUTE)
      await browser.post('/elevate')
      assert.deepEqual(JSON.parse((await browser.get('/session')).body).data, { a: 1 })
    }
    app.clock.advance(3 * MINUTE) // 11 minutes after creation, 3 after the last new ID
    assert.deepEqual(JSON.parse((await browser.get('/session')).body).data, {})
  })
})
