import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { send } from '../support/http.ts'
import { type Harness, startApp } from './harness.ts'

describe('several cookies of the session name', () => {
  let app: Harness
  before(async () => {
    app = await startApp()
  })
  after(() => app.close())

  async function stored(value: number): Promise<string> {
    const browser = app.browser()
    await browser.post('/session', { value })
    return browser.jar.get('sid')!
  }

  it('a stale cookie (its record gone) does not shadow the valid one, and neither is expired', async () => {
    const stale = app.browser()
    await stale.post('/session', { value: 'stale' })
    const staleCookie = stale.jar.get('sid')!
    await stale.post('/destroy')
    const valid = await stored(2)
    const reply = await send(`${app.url}/session`, { cookie: `sid=${staleCookie}; sid=${valid}` })
    assert.equal(reply.status, 200)
    assert.equal(JSON.parse(reply.body).data.value, 2, 'the valid session was loaded')
    assert.deepEqual(reply.setCookies, [], 'no cookie expired: in a browser that would delete the valid one')
  })

  it('expires the cookie only when every presented cookie proved stale', async () => {
    const first = app.browser()
    await first.post('/session', { value: 1 })
    const a = first.jar.get('sid')!
    await first.post('/destroy')
    const second = app.browser()
    await second.post('/session', { value: 2 })
    const b = second.jar.get('sid')!
    await second.post('/destroy')
    const reply = await send(`${app.url}/session`, { cookie: `sid=${a}; sid=${b}` })
    assert.equal(JSON.parse(reply.body).data.value, undefined)
    assert.match(reply.setCookies[0] ?? '', /^sid=; Path=\/; Max-Age=0/)
  })

  it('a forged cookie beside a valid one is skipped without a store call, and never expired', async () => {
    const valid = await stored(3)
    app.spy.reset()
    const reply = await send(`${app.url}/session`, { cookie: `sid=s%3Aforged.AAAA; sid=${valid}` })
    assert.equal(JSON.parse(reply.body).data.value, 3)
    assert.equal(app.spy.count('get'), 1)
    assert.deepEqual(reply.setCookies, [])
  })
})
