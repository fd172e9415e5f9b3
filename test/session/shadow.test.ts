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

  it('more verified cookies than are tried (three stale planted before the valid one): none is expired', async () => {
    const stale: string[] = []
    for (let i = 0; i < 3; i++) {
      const gone = app.browser()
      await gone.post('/session', { value: `stale ${i}` })
      stale.push(gone.jar.get('sid')!)
      await gone.post('/destroy')
    }
    const valid = await stored(4)
    app.spy.reset()
    const cookie = [...stale, valid].map((value) => `sid=${value}`).join('; ')
    const reply = await send(`${app.url}/session`, { cookie })
    assert.equal(reply.status, 200)
    assert.equal(app.spy.count('get'), 3, 'at most three are read from the store')
    assert.deepEqual(reply.setCookies, [], 'the untried fourth may be the valid one: a deletion would end it')
    assert.equal(JSON.parse((await send(`${app.url}/session`, { cookie: `sid=${valid}` })).body).data.value, 4)
    // Three stale ones and the same one again (one key twice) are three distinct cookies: all tried, then expired.
    const twice = await send(`${app.url}/session`, {
      cookie: `sid=${stale[0]}; ${[...stale].map((v) => `sid=${v}`).join('; ')}`,
    })
    assert.match(twice.setCookies[0] ?? '', /^sid=; Path=\/; Max-Age=0/)
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
