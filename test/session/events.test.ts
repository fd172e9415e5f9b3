import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { describe, it } from 'node:test'
import { shortId } from '../../src/core/token.ts'
import { channelNames, type SessionEvent } from '../../src/events.ts'
import { keyOf, startApp, tokenOf } from './harness.ts'

describe('events', () => {
  it('reports created, regenerated, destroyed, expired and store-error to onEvent and diagnostics_channel', async (t) => {
    const hooked: SessionEvent[] = []
    const published: Array<[string, SessionEvent]> = []
    const listeners = Object.entries(channelNames).map(([type, name]) => {
      const listener = (message: unknown) => published.push([type, message as SessionEvent])
      subscribe(name, listener)
      return () => unsubscribe(name, listener)
    })
    t.after(() => {
      for (const stop of listeners) stop()
    })
    const app = await startApp({ idleTimeout: 60_000, onEvent: (e) => hooked.push(e) })
    t.after(() => app.close())

    const browser = app.browser()
    await browser.post('/session', { a: 1 })
    const first = keyOf(browser)
    const token = tokenOf(browser)
    await browser.post('/regenerate?keep=1')
    const second = keyOf(browser)
    await browser.post('/destroy')
    await browser.post('/session', { a: 2 })
    app.clock.advance(60_000)
    await browser.get('/session')
    app.spy.fail('create')
    await app.browser().post('/session', { a: 3 })
    app.spy.heal()

    assert.deepEqual(
      hooked.map((e) => e.type),
      ['created', 'regenerated', 'created', 'destroyed', 'created', 'expired', 'store-error'],
    )
    assert.equal(hooked[0]!.sid, shortId(first))
    assert.deepEqual(
      { sid: hooked[1]!.sid, previousSid: hooked[1]!.previousSid },
      { sid: shortId(second), previousSid: shortId(first) },
    )
    assert.equal(hooked[5]!.reason, 'idle')
    assert.deepEqual(
      published.map(([channel, e]) => [channel, e.type]),
      hooked.map((e) => [e.type, e.type]),
    )
    const text = JSON.stringify(hooked.map(({ error: _error, ...rest }) => rest))
    assert.ok(!text.includes(token) && !text.includes(first) && !text.includes(second), 'no ID or token leaks')
    assert.match(hooked[0]!.sid!, /^[0-9a-f]{12}$/)
  })

  it('a throwing onEvent hook is reported as a warning and does not break the request', async (t) => {
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.message)
    process.on('warning', onWarning)
    t.after(() => process.off('warning', onWarning))
    const app = await startApp({
      onEvent: () => {
        throw new Error('hook bug')
      },
    })
    t.after(() => app.close())
    const reply = await app.browser().post('/session', { a: 1 })
    assert.equal(reply.status, 200)
    assert.equal(reply.setCookies.length, 1)
    await new Promise((resolve) => setImmediate(resolve))
    assert.ok(warnings.some((w) => w.includes('hook bug')))
  })
})
