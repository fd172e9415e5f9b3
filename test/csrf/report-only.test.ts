import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { describe, it } from 'node:test'
import type { SessionEvent } from '../../src/index.ts'
import { formPost, postWith, SAME_ORIGIN, startModern } from './support.ts'

describe('csrf() reportOnly', () => {
  it('lets a failing request through and reports it, to the session, csrf() onEvent and the channel', async () => {
    const own: SessionEvent[] = []
    const channel: unknown[] = []
    const listener = (message: unknown) => channel.push(message)
    subscribe('coatcheck:csrf-rejected', listener)
    const app = await startModern(undefined, { csrf: { reportOnly: true, onEvent: (e) => own.push(e) } })
    try {
      const browser = app.browser()
      await postWith(browser, '/session', SAME_ORIGIN, 'balance=100')
      const cross = await postWith(browser, '/transfer', { 'sec-fetch-site': 'cross-site' })
      assert.equal(cross.status, 200)
      assert.equal(JSON.parse(cross.body).balance, 90, 'the handler ran')
      const missing = await formPost(browser, '/transfer')
      assert.equal(missing.status, 200)
      const expected = [
        { type: 'csrf-rejected', reason: 'cross-site', reportOnly: true },
        { type: 'csrf-rejected', reason: 'token-missing', reportOnly: true },
      ]
      const strip = (events: unknown[]) =>
        events.map((e) => {
          const { sid, ...rest } = e as SessionEvent
          assert.equal(sid?.length, 12, 'the stored session is named by its short hash')
          return rest
        })
      assert.deepEqual(strip(app.events.filter((e) => e.type === 'csrf-rejected')), expected)
      assert.deepEqual(strip(own), expected)
      assert.deepEqual(strip(channel), expected)
    } finally {
      unsubscribe('coatcheck:csrf-rejected', listener)
      await app.close()
    }
  })

  it('an anonymous request is reported without a sid', async () => {
    const app = await startModern(undefined, { csrf: { reportOnly: true } })
    try {
      assert.equal((await postWith(app.browser(), '/any', { origin: 'null' })).status, 200)
      assert.deepEqual(app.events.at(-1), { type: 'csrf-rejected', reason: 'null-origin', reportOnly: true })
    } finally {
      await app.close()
    }
  })
})
