import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { SessionEvent } from '../../src/events.ts'
import type { CoatcheckStore } from '../../src/stores/types.ts'
import { send } from '../support/http.ts'
import { type AuthApp, login, startAuthApp, USERS } from './harness.ts'

const [ADA] = USERS as [(typeof USERS)[0]]
const DAY = 86_400_000

/** Remember-me on one backend: restore, rotation, theft, grace, expiry, logout and devices. */
export function rememberSuite(name: string, open: () => Promise<CoatcheckStore>): void {
  describe(`remember-me on ${name}`, () => {
    let app: AuthApp
    const events: SessionEvent[] = []
    before(async () => {
      app = await startAuthApp(await open(), { session: { onEvent: (e) => events.push(e) } })
    })
    after(() => app.close())

    /** A browser logged in as Ada with "remember me", its session then gone (the browser was closed a day). */
    async function remembered() {
      const browser = app.browser()
      const reply = await login(browser, ADA.email, ADA.password, { remember: true })
      assert.equal(reply.status, 200)
      return { browser, reply }
    }

    it('login sets an HttpOnly, SameSite=Lax remember cookie for 30 days, storing only a hash', async () => {
      const { browser, reply } = await remembered()
      const line = reply.setCookies.find((c) => c.startsWith('remember='))
      assert.ok(line, 'a remember cookie')
      assert.match(line, /; Max-Age=2592000; /)
      assert.match(line, /HttpOnly/)
      assert.match(line, /SameSite=Lax/)
      assert.doesNotMatch(line, /Domain=/)
      const value = decodeURIComponent(browser.jar.get('remember')!)
      const [selector, validator] = value.slice(2, value.lastIndexOf('.')).split(':') as [string, string]
      const stored = await app.store.tokens.get(selector)
      assert.equal(stored?.userId, ADA.id)
      assert.notEqual(stored?.hash, validator, 'the validator itself is never stored')
    })

    it('restores a session after it expired: new ID, marked remembered, requireFresh asks again; rotates', async () => {
      const { browser } = await remembered()
      const oldSid = browser.jar.get('sid')
      const oldRemember = browser.jar.get('remember')
      app.clock.advance(2 * DAY) // past the 24 h idle timeout
      const me = await browser.get('/me')
      assert.equal(me.status, 200, 'already logged in on the first request, no redirect')
      assert.equal(JSON.parse(me.body).userId, ADA.id)
      assert.notEqual(browser.jar.get('sid'), oldSid)
      assert.notEqual(browser.jar.get('remember'), oldRemember, 'the validator rotated')
      const fresh = await browser.post('/account/sensitive')
      assert.equal(fresh.status, 401)
      assert.equal(JSON.parse(fresh.body).reason, 'stale')
      app.clock.advance(2 * DAY)
      const third = browser.jar.get('remember')
      assert.equal((await browser.get('/me')).status, 200)
      assert.notEqual(browser.jar.get('remember'), third, 'rotated on every use')
    })

    it('a replayed, already rotated cookie revokes every token and session of the user', async () => {
      const { browser } = await remembered()
      const stolen = browser.jar.get('remember')!
      app.clock.advance(2 * DAY)
      assert.equal((await browser.get('/me')).status, 200) // the owner uses it first: rotated
      app.clock.advance(60_000) // past the grace
      events.length = 0
      const thief = await send(`${app.url}/me`, { cookie: `remember=${stolen}` })
      assert.equal(thief.status, 401)
      assert.ok(events.some((e) => e.type === 'remember-theft'))
      assert.equal((await browser.get('/me')).status, 401, 'the owner is logged out everywhere too')
      assert.deepEqual(await app.store.listByUser(ADA.id), [])
      assert.deepEqual(await app.store.tokens.listByUser(ADA.id), [])
    })

    it('concurrent requests of one browser with the same fresh cookie are not a theft', async () => {
      const { browser } = await remembered()
      app.clock.advance(2 * DAY)
      events.length = 0
      const cookie = browser.cookieHeader()
      const replies = await Promise.all(Array.from({ length: 4 }, () => send(`${app.url}/me`, { cookie })))
      assert.deepEqual(
        replies.map((r) => r.status),
        [200, 200, 200, 200],
      )
      assert.equal(events.filter((e) => e.type === 'remember-theft').length, 0)
    })

    it('an expired token is rejected and deleted; a malformed cookie is ignored, never a 500', async () => {
      const { browser } = await remembered()
      app.clock.advance(31 * DAY)
      const reply = await browser.get('/me')
      assert.equal(reply.status, 401)
      assert.equal(browser.jar.has('remember'), false, 'the cookie is expired')
      for (const value of ['garbage', 's%3Ano-colon.sig', '%E0%A4%A', 'x'.repeat(5000)]) {
        assert.equal((await send(`${app.url}/me`, { cookie: `remember=${value}` })).status, 401)
      }
    })

    it('logout deletes this device’s token and expires its cookie; logout everywhere deletes them all', async () => {
      await app.store.tokens.destroyByUser(ADA.id)
      const one = await remembered()
      const two = await remembered()
      assert.equal((await app.store.tokens.listByUser(ADA.id)).length, 2)
      const out = await one.browser.post('/logout')
      assert.ok(out.setCookies.some((c) => /^remember=; .*Max-Age=0/.test(c)))
      assert.equal((await app.store.tokens.listByUser(ADA.id)).length, 1)
      await two.browser.post('/logout?everywhere=1')
      assert.deepEqual(await app.store.tokens.listByUser(ADA.id), [])
    })

    it('a remembered device without a live session is listed and can be revoked', async () => {
      await app.store.tokens.destroyByUser(ADA.id)
      await app.store.destroyByUser(ADA.id)
      const laptop = await remembered()
      await app.store.destroyByUser(ADA.id) // its session ended; the token remains
      const phone = app.browser()
      await login(phone, ADA.email, ADA.password)
      const list = JSON.parse((await phone.get('/account/sessions')).body) as Array<Record<string, unknown>>
      const remembered2 = list.find((d) => d.remembered && !d.current)
      assert.ok(remembered2, JSON.stringify(list))
      assert.deepEqual(JSON.parse((await phone.post(`/account/sessions/${remembered2.handle}/revoke`)).body), {
        revoked: true,
      })
      assert.deepEqual(await app.store.tokens.listByUser(ADA.id), [])
      assert.equal((await laptop.browser.get('/me')).status, 401)
    })

    it('a store failure while restoring is a 503', async () => {
      const { browser } = await remembered()
      app.clock.advance(2 * DAY)
      const tokens = app.store.tokens
      const get = tokens.get
      tokens.get = async () => {
        throw new Error('injected tokens.get failure')
      }
      try {
        assert.equal((await browser.get('/me')).status, 503)
      } finally {
        tokens.get = get
      }
      assert.equal((await browser.get('/me')).status, 200, 'and recovers once the store is back')
    })
  })
}
