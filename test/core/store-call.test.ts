import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { storeCall } from '../../src/core/store-call.ts'
import { CoatcheckError, type SessionEvent } from '../../src/index.ts'
import type { CoatcheckStore } from '../../src/stores/types.ts'
import { startApp } from '../session/harness.ts'

describe('storeCall', () => {
  it('a SESSION_TOO_LARGE refusal from the store passes through as a 413 and is no store-error', async (t) => {
    const events: SessionEvent[] = []
    const app = await startApp({ onEvent: (event) => events.push(event) })
    t.after(() => app.close())
    // The store enforces the bound atomically and refuses the write, as every backend's update does.
    const tooLarge = () => Promise.reject(new CoatcheckError('SESSION_TOO_LARGE', 'coatcheck: too large', 413))
    const inner = app.inner as CoatcheckStore & Record<string, unknown>
    const { create, update } = inner
    inner.create = tooLarge
    inner.update = tooLarge
    t.after(() => Object.assign(inner, { create, update }))
    const reply = await app.browser().post('/session', { big: 'x' })
    assert.equal(reply.status, 413)
    assert.deepEqual(reply.setCookies, [])
    assert.deepEqual(
      events.filter((e) => e.type === 'store-error'),
      [],
    )
  })

  it('the refusal is the store’s own error object; other failures are still reported', async () => {
    const events: SessionEvent[] = []
    const o = { storeTimeout: 1000, emit: (event: SessionEvent) => events.push(event) }
    const refusal = new CoatcheckError('SESSION_TOO_LARGE', 'coatcheck: too large', 413)
    await assert.rejects(
      storeCall(o, () => Promise.reject(refusal)),
      (e) => e === refusal,
    )
    assert.equal(events.length, 0)
    await assert.rejects(
      storeCall(o, () => Promise.reject(new Error('down'))),
      (e) => e instanceof CoatcheckError && e.code === 'STORE_ERROR' && e.status === 503,
    )
    assert.deepEqual(
      events.map((e) => e.type),
      ['store-error'],
    )
  })
})
