import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { after, before, describe, it, mock } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CoatcheckStore } from '../../src/stores/types.ts'
import { send } from '../support/http.ts'
import { type AuthApp, login, startAuthApp, USERS } from './harness.ts'
import { revocationRaces } from './races.ts'
import { rememberSuite } from './remember.ts'

const [ADA, BOB] = USERS as [(typeof USERS)[0], (typeof USERS)[0]]
const CHROME_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36'
const FIREFOX_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.6; rv:140.0) Gecko/20100101 Firefox/140.0'

/** Login, logout, guards, devices and throttling on one backend. `open` gives a fresh, empty store. */
export function authSuite(name: string, open: () => Promise<CoatcheckStore>): void {
  describe(`auth on ${name}`, () => {
    let app: AuthApp
    before(async () => {
      app = await startAuthApp(await open(), { throttle: { perAccount: { max: 3, windowMs: 60_000 } } })
    })
    after(() => app.close())

    it('login issues a new ID: a cookie planted before login is useless afterwards (fixation)', async () => {
      const attacker = app.browser()
      await attacker.post('/cart/bait')
      const planted = attacker.cookieHeader()
      const victim = app.browser()
      victim.jar.set('sid', attacker.jar.get('sid')!)
      const reply = await login(victim, ADA.email, ADA.password)
      assert.equal(reply.status, 200)
      assert.notEqual(victim.cookieHeader(), planted)
      assert.equal((await victim.get('/me')).status, 200)
      const replay = await send(`${app.url}/me`, { cookie: planted })
      assert.equal(replay.status, 401)
    })

    it('carries an anonymous cart into the login, but never one user’s data to another', async () => {
      const browser = app.browser()
      await browser.post('/cart/apple')
      await login(browser, ADA.email, ADA.password)
      assert.deepEqual(JSON.parse((await browser.get('/me')).body), { userId: ADA.id, cart: ['apple'] })
      await browser.post('/cart/ada-secret')
      await login(browser, BOB.email, BOB.password)
      assert.deepEqual(JSON.parse((await browser.get('/me')).body), { userId: BOB.id, cart: [] })
    })

    it('the login response carries the cookie of a session that is already stored with user and meta', async () => {
      const browser = app.browser(CHROME_LINUX)
      const reply = await login(browser, ADA.email, ADA.password)
      assert.match(reply.setCookies[0] ?? '', /^sid=s%3A/)
      const sessions = await app.store.listByUser(ADA.id)
      const mine = sessions.find((s) => s.record.meta.ua === CHROME_LINUX)
      assert.ok(mine, 'indexed under the user')
      assert.equal(mine.record.userId, ADA.id)
      assert.equal(mine.record.meta.authAt, app.clock.now())
      assert.equal(mine.record.meta.ip, '127.0.0.1')
    })

    it('logout destroys the session, expires the cookie, sends no-store; replaying the cookie is anonymous', async () => {
      const browser = app.browser()
      await login(browser, ADA.email, ADA.password)
      const cookie = browser.cookieHeader()
      const reply = await browser.post('/logout')
      assert.equal(reply.headers.get('cache-control'), 'no-store')
      assert.match(reply.setCookies[0] ?? '', /^sid=; Path=\/; Max-Age=0/)
      assert.equal((await send(`${app.url}/me`, { cookie })).status, 401)
    })

    it('requireAuth answers 401 JSON, or redirects HTML requests when configured', async () => {
      const anonymous = await app.browser().get('/me')
      assert.equal(anonymous.status, 401)
      assert.deepEqual(JSON.parse(anonymous.body), { error: 'Unauthorized' })
      const page = await app.browser().request('/page', { headers: { accept: 'text/html' } })
      assert.equal(page.status, 303)
      assert.equal(page.headers.get('location'), '/login')
    })

    it('requireAuth fails closed when the store fails', async () => {
      const browser = app.browser()
      await login(browser, ADA.email, ADA.password)
      app.spy.fail('get')
      const reply = await browser.get('/me')
      app.spy.heal()
      assert.equal(reply.status, 503)
      assert.doesNotMatch(reply.body, /u-ada/)
    })

    it('unknown user and wrong password look identical and cost one hash verification each', async () => {
      const argon2 = mock.method(crypto, 'argon2')
      try {
        const unknown = await app.browser().post('/login', { email: 'nobody@example.com', password: 'x' })
        const unknownCalls = argon2.mock.callCount()
        const wrong = await app.browser().post('/login', { email: BOB.email, password: 'wrong' })
        assert.equal(unknownCalls, 1)
        assert.equal(argon2.mock.callCount() - unknownCalls, 1)
        assert.equal(unknown.status, wrong.status)
        assert.equal(unknown.body, wrong.body)
        const headers = (r: typeof wrong) => [...r.headers].filter(([k]) => k !== 'date')
        assert.deepEqual(headers(unknown), headers(wrong))
      } finally {
        argon2.mock.restore()
      }
    })

    it('throttles failed attempts per account with Retry-After, the same answer for unknown accounts', async () => {
      const target = 'carol@example.com'
      for (let i = 0; i < 3; i++) assert.equal((await app.browser().post('/login', { email: target })).status, 401)
      const locked = await app.browser().post('/login', { email: target, password: 'x' })
      assert.equal(locked.status, 429)
      assert.equal(locked.headers.get('retry-after'), '60')
      const stillLocked = await app.browser().post('/login', { email: ` ${target.toUpperCase()} ` })
      assert.equal(stillLocked.status, 429)
      assert.equal(stillLocked.body, locked.body)
      assert.equal((await app.browser().post('/login', { email: 'dave@example.com' })).status, 401)
    })

    it('a successful login resets the account count', async () => {
      const fresh = await startAuthApp(await open(), { throttle: { perAccount: { max: 3, windowMs: 60_000 } } })
      try {
        for (let i = 0; i < 2; i++) await fresh.browser().post('/login', { email: BOB.email, password: 'no' })
        assert.equal((await login(fresh.browser(), BOB.email, BOB.password)).status, 200)
        for (let i = 0; i < 3; i++) {
          assert.equal((await fresh.browser().post('/login', { email: BOB.email, password: 'no' })).status, 401)
        }
        assert.equal((await fresh.browser().post('/login', { email: BOB.email, password: 'no' })).status, 429)
      } finally {
        await fresh.close()
      }
    })

    it('lockouts are temporary and grow exponentially; a spoofed X-Forwarded-For changes nothing', async () => {
      const fresh = await startAuthApp(await open(), {
        throttle: {
          perAccount: { max: 100, windowMs: 60_000 },
          perIp: { max: 2, windowMs: 60_000 },
          backoff: { baseMs: 1000, maxMs: 4000 },
        },
      })
      try {
        const attempt = (ip: string) =>
          fresh.browser().request('/login', {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
            body: JSON.stringify({ email: `${ip}@example.com` }),
          })
        assert.equal((await attempt('10.0.0.1')).status, 401)
        assert.equal((await attempt('10.0.0.2')).status, 401)
        const first = await attempt('10.0.0.3')
        assert.equal(first.status, 429, 'the forged addresses all count against the real peer')
        assert.equal(first.headers.get('retry-after'), '1')
        await sleep(1100)
        await attempt('10.0.0.4')
        await attempt('10.0.0.5')
        const second = await attempt('10.0.0.6')
        assert.equal(second.status, 429)
        assert.equal(second.headers.get('retry-after'), '2', 'the second lockout lasts twice as long')
      } finally {
        await fresh.close()
      }
    })

    it('lists the user’s live sessions with labels, and revokes one, the others or all', async () => {
      await app.store.destroyByUser(BOB.id) // earlier tests logged Bob in elsewhere
      const laptop = app.browser(CHROME_LINUX)
      const phone = app.browser(FIREFOX_MAC)
      await login(laptop, BOB.email, BOB.password)
      await login(phone, BOB.email, BOB.password)
      const list = JSON.parse((await laptop.get('/account/sessions')).body) as Array<Record<string, unknown>>
      assert.equal(list.length, 2)
      const labels = list.map((s) => s.label).sort()
      assert.deepEqual(labels, ['Chrome on Linux', 'Firefox on macOS'])
      const current = list.find((s) => s.current)
      assert.equal(current?.label, 'Chrome on Linux')
      assert.equal(list.filter((s) => s.current).length, 1)
      for (const entry of list) {
        assert.match(String(entry.handle), /^[0-9a-f]{12}$/)
        assert.equal(entry.ip, '127.0.0.1')
        assert.ok(!laptop.cookieHeader().includes(String(entry.handle)))
      }

      const other = list.find((s) => !s.current)!
      assert.deepEqual(JSON.parse((await laptop.post('/account/sessions/ffffffffffff/revoke')).body), {
        revoked: false,
      })
      const revoked = await laptop.post(`/account/sessions/${other.handle}/revoke`)
      assert.deepEqual(JSON.parse(revoked.body), { revoked: true })
      assert.equal((await phone.get('/me')).status, 401, 'the revoked device is logged out on its next request')

      await login(phone, BOB.email, BOB.password)
      const before = laptop.cookieHeader()
      assert.deepEqual(JSON.parse((await laptop.post('/account/revoke-others')).body), { revoked: 1 })
      assert.notEqual(laptop.cookieHeader(), before, 'the current session got a new ID')
      assert.equal((await phone.get('/me')).status, 401)
      assert.equal((await laptop.get('/me')).status, 200)

      await login(phone, BOB.email, BOB.password)
      await laptop.post('/logout?everywhere=1')
      assert.equal((await phone.get('/me')).status, 401)
      assert.equal((await laptop.get('/me')).status, 401)
      assert.deepEqual(await app.store.listByUser(BOB.id), [])
    })

    it('requireFresh: recent password entry passes, a stale one gets 401 with a reason', async () => {
      const browser = app.browser()
      assert.deepEqual(JSON.parse((await browser.post('/account/sensitive')).body), { error: 'Unauthorized' })
      await login(browser, ADA.email, ADA.password)
      assert.equal((await browser.post('/account/sensitive')).status, 200)
      app.clock.advance(11 * 60_000)
      const stale = await browser.post('/account/sensitive')
      assert.equal(stale.status, 401)
      assert.deepEqual(JSON.parse(stale.body), { error: 'Reauthentication required', reason: 'stale' })
      await login(browser, ADA.email, ADA.password)
      assert.equal((await browser.post('/account/sensitive')).status, 200)
    })
  })
  revocationRaces(name, open)
  rememberSuite(name, open)
}
