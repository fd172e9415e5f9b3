import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { memoryStore, type SessionEvent } from '../../src/index.ts'
import { peekSession, withPeek } from '../../src/stores/peek.ts'
import { send } from '../support/http.ts'
import { type Harness, startApp } from './harness.ts'

// The memory store answers in the same tick, so the middleware loads its sessions without a promise (stores/peek.ts).
// The other session tests wrap the store in a spy, which keeps them on the async path: these run the same rules on
// the synchronous one.
describe('sessions read synchronously from memoryStore()', () => {
  const events: SessionEvent[] = []
  const store = memoryStore()
  let app: Harness
  before(async () => {
    app = await startApp({ store, onEvent: (event) => events.push(event) })
  })
  after(async () => {
    await app.close()
    await store.close?.()
  })

  it('loads a stored session and writes what changed', async () => {
    const browser = app.browser()
    await browser.post('/session', { value: 1 })
    await browser.post('/session', { other: 2 })
    assert.deepEqual(JSON.parse((await browser.get('/session')).body).data, { value: 1, other: 2 })
  })

  it('a stale cookie does not shadow the valid one; only all-stale cookies are expired', async () => {
    const stale = app.browser()
    await stale.post('/session', { value: 'stale' })
    const staleCookie = stale.jar.get('sid')!
    await stale.post('/destroy')
    const valid = app.browser()
    await valid.post('/session', { value: 2 })
    const both = await send(`${app.url}/session`, { cookie: `sid=${staleCookie}; sid=${valid.jar.get('sid')}` })
    assert.equal(JSON.parse(both.body).data.value, 2)
    assert.deepEqual(both.setCookies, [])
    const onlyStale = await send(`${app.url}/session`, { cookie: `sid=${staleCookie}` })
    assert.deepEqual(JSON.parse(onlyStale.body).data, {})
    assert.match(onlyStale.setCookies[0] ?? '', /^sid=; Path=\/; Max-Age=0/)
  })

  it('a record expired by the engine is not adopted, and is reported and removed', async () => {
    const browser = app.browser()
    await browser.post('/session', { value: 3 })
    const { id } = JSON.parse((await browser.get('/session')).body) as { id: string }
    app.clock.advance(25 * 3_600_000)
    const expired = await browser.get('/session')
    assert.deepEqual(JSON.parse(expired.body).data, {})
    assert.match(expired.setCookies[0] ?? '', /^sid=; .*Max-Age=0/)
    assert.ok(events.some((e) => e.type === 'expired' && e.reason === 'idle'))
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(await store.get(id), undefined)
  })
})

describe('a synchronous read that throws', () => {
  it('answers 503 with a store-error, without reading again through get', async () => {
    const events: SessionEvent[] = []
    const inner = memoryStore()
    let gets = 0
    let failing = false
    const store = withPeek(
      (key) => {
        if (failing) throw new Error('database is locked')
        return peekSession(inner)!(key)
      },
      {
        ...inner,
        async get(key: string) {
          gets++
          return inner.get(key)
        },
      },
    )
    const app = await startApp({ store, onEvent: (event) => events.push(event) })
    try {
      const browser = app.browser()
      await browser.post('/session', { value: 1 })
      assert.equal(JSON.parse((await browser.get('/session')).body).data.value, 1)
      failing = true
      assert.equal((await browser.get('/session')).status, 503)
      const errors = events.filter((event) => event.type === 'store-error')
      assert.equal(errors.length, 1)
      assert.match(String((errors[0] as { error: Error }).error.cause), /database is locked/)
      assert.equal(gets, 0, 'the session was read through the peek only')
      failing = false
      assert.equal(JSON.parse((await browser.get('/session')).body).data.value, 1)
    } finally {
      await app.close()
      await inner.close?.()
    }
  })
})
