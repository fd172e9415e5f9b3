import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import {
  logIn,
  loginThrottle,
  memoryStore,
  rememberMe,
  revokeAllSessions,
  type SessionEvent,
  session,
} from '../../src/index.ts'
import { Clock, Instrumented } from '../support/faults.ts'
import { Gate } from '../support/gate.ts'
import { Browser, listen, type Reply, type Running } from '../support/http.ts'
import { Once } from '../support/once.ts'
import { type AuthApp, login, SECRET, startAuthApp, USERS } from './harness.ts'

const [ADA] = USERS as [(typeof USERS)[0]]

/** The name of each cookie a response sets, with `(expired)` after the ones it deletes. */
const cookieNames = (reply: Reply) =>
  reply.setCookies.map((c) => c.slice(0, c.indexOf('=')) + (/max-age=0/i.test(c) ? '(expired)' : ''))

/** The public selector of a browser's remember-me token (the store key of its record). */
function selectorOf(browser: Browser): string {
  const value = decodeURIComponent(browser.jar.get('remember')!)
  return value.slice(2, value.lastIndexOf('.')).split(':')[0]!
}

describe('remember-me review: revocation, failed commits, logout everywhere', () => {
  let app: AuthApp
  let once: Once
  const events: SessionEvent[] = []
  before(async () => {
    once = new Once(memoryStore())
    app = await startAuthApp(once.store, { session: { onEvent: (e) => events.push(e) } })
  })
  after(() => app.close())

  /** A browser logged in as Ada with "remember me", its session cookie then gone (the browser restarted). */
  async function restarted(): Promise<Browser> {
    const browser = app.browser()
    assert.equal((await login(browser, ADA.email, ADA.password, { remember: true })).status, 200)
    browser.jar.delete('sid')
    return browser
  }

  it('a restore racing revokeAllSessions ends anonymous, and nothing of the user is left', async () => {
    const browser = await restarted()
    const gate = new Gate()
    once.next('create', () => gate.wait()) // the restore is storing its new session...
    const restoring = browser.get('/me')
    await gate.until(1)
    await revokeAllSessions(app.store, ADA.id) // ...when an admin disables the user
    gate.open()
    const reply = await restoring
    assert.equal(reply.status, 401)
    assert.deepEqual(await app.store.listByUser(ADA.id), [])
    assert.deepEqual(await app.store.tokens.listByUser(ADA.id), [])
    browser.jar.delete('remember')
    assert.equal((await browser.get('/me')).status, 401, 'whatever session cookie it got is dead')
  })

  it('a restore whose commit fails (503) does not rotate the validator: the browser is not later a thief', async () => {
    const phone = app.browser()
    assert.equal((await login(phone, ADA.email, ADA.password, { remember: true })).status, 200)
    const laptop = await restarted()
    const selector = selectorOf(laptop)
    const stored = (await app.store.tokens.get(selector))!.hash
    events.length = 0
    once.fail('create') // one store blip while the remember cookie is used
    const failed = await laptop.get('/me')
    assert.equal(failed.status, 503)
    assert.ok(!failed.setCookies.some((c) => c.startsWith('remember=')), 'no new remember cookie on a 503')
    assert.equal((await app.store.tokens.get(selector))?.hash, stored, 'the stored validator did not rotate')

    app.clock.advance(60_000) // past the 30 s grace
    laptop.jar.delete('sid')
    const again = await laptop.get('/me')
    assert.equal(again.status, 200, 'the same, never replaced cookie still restores')
    assert.equal(JSON.parse(again.body).userId, ADA.id)
    assert.equal((await phone.get('/me')).status, 200, 'the other device is still logged in')
    assert.ok(!events.some((e) => e.type === 'remember-theft'))
  })

  it('a password login on the request that restored the session is kept (the restore does not undo it later)', async () => {
    // The sign-in form posted after the session expired: rememberMe() restores Ada, then the handler's logIn replaces
    // that session (forgetting its token). The restore's work after the write must leave the new login alone.
    const [, BOB] = USERS as [(typeof USERS)[0], (typeof USERS)[0]]
    for (const [who, remember] of [
      [ADA, true],
      [ADA, false],
      [BOB, true],
      [BOB, false],
    ] as const) {
      const browser = await restarted()
      const old = selectorOf(browser)
      const reply = await login(browser, who.email, who.password, { remember })
      const label = `${who.email} remember=${remember}`
      assert.equal(reply.status, 200, label)
      assert.deepEqual(cookieNames(reply).sort(), remember ? ['remember', 'sid'] : ['remember(expired)', 'sid'], label)
      const me = await browser.get('/me')
      assert.equal(me.status, 200, label)
      assert.equal(JSON.parse(me.body).userId, who.id, label)
      assert.equal(await once.store.tokens!.get(old), undefined, `${label}: the restored device's token is gone`)
      if (remember)
        assert.ok(await once.store.tokens!.get(selectorOf(browser)), `${label}: the new token is the cookie's`)
    }
  })

  it('logOut({ everywhere: true }) expires this device’s remember cookie', async () => {
    const browser = app.browser()
    assert.equal((await login(browser, ADA.email, ADA.password, { remember: true })).status, 200)
    const reply = await browser.post('/logout?everywhere=1')
    assert.equal(reply.status, 200)
    assert.ok(cookieNames(reply).includes('remember(expired)'), `Set-Cookie: ${cookieNames(reply).join(', ')}`)
    assert.deepEqual(await app.store.tokens.listByUser(ADA.id), [])
    events.length = 0
    assert.equal((await browser.get('/me')).status, 401)
    assert.ok(!events.some((e) => e.type.startsWith('remember')), 'no remember cookie presented afterwards')
  })
})

describe('remember-me review: app headers and the login throttle', () => {
  const ACCOUNTS = new Map([
    ['ada@example.com', { id: 'ada', password: 'ada-password' }],
    ['victim@example.com', { id: 'victim', password: 'victim-password' }],
    ['mallory@example.com', { id: 'mallory', password: 'mallory-password' }],
  ])
  const events: SessionEvent[] = []
  const clock = new Clock(Date.now())
  const spy = new Instrumented(memoryStore())
  let server: Running
  before(async () => {
    const app = express()
    app.set('env', 'test')
    app.use(express.json())
    app.use(session({ secret: SECRET, store: spy.store, now: clock.now, onEvent: (e) => events.push(e) }))
    app.use(rememberMe())
    // A failed login goes back to the form with a redirect (passport's failureRedirect): a status below 400.
    app.post('/login', loginThrottle({ account: (req) => req.body?.email }), async (req, res) => {
      const user = ACCOUNTS.get(req.body.email)
      if (!user || user.password !== req.body.password) return res.redirect(303, '/login?error=1')
      await logIn(req, user.id, { remember: req.body.remember === true })
      res.redirect(303, '/')
    })
    app.get('/themed/write-head', (req, res) => {
      res.writeHead(200, { 'Set-Cookie': 'theme=dark; Path=/', 'Content-Type': 'text/plain' })
      res.end(`hello ${req.session.userId}`)
    })
    app.get('/themed/set-header', (req, res) => {
      res.setHeader('Set-Cookie', 'theme=dark; Path=/')
      res.setHeader('Content-Type', 'text/plain')
      res.end(`hello ${req.session.userId}`)
    })
    server = await listen(app)
  })
  after(async () => {
    await server.close()
    await spy.store.close?.()
  })

  const attempt = (browser: Browser, email: string, password: string, remember = false) =>
    browser.post('/login', { email, password, remember })

  for (const route of ['write-head', 'set-header'] as const) {
    it(`the rotated remember cookie survives the app’s own Set-Cookie (${route}); the next restore is no theft`, async () => {
      const browser = new Browser(server.url)
      assert.equal((await attempt(browser, 'ada@example.com', 'ada-password', true)).status, 303)
      browser.jar.delete('sid')
      const issued = browser.jar.get('remember')
      events.length = 0
      const restored = await browser.get(`/themed/${route}`)
      assert.equal(restored.body, 'hello ada')
      assert.deepEqual(cookieNames(restored).sort(), ['remember', 'sid', 'theme'])
      assert.notEqual(browser.jar.get('remember'), issued, 'the browser holds the rotated validator')

      clock.advance(60_000) // past the grace: the old validator would now be a replayed, stolen one
      browser.jar.delete('sid')
      assert.equal((await browser.get(`/themed/${route}`)).body, 'hello ada')
      assert.deepEqual(
        events.filter((e) => e.type.startsWith('remember')).map((e) => e.type),
        ['remember-used', 'remember-used'],
      )
    })
  }

  it('a remember-me restore does not clear another account’s login throttle', async () => {
    const mallory = new Browser(server.url)
    assert.equal((await attempt(mallory, 'mallory@example.com', 'mallory-password', true)).status, 303)
    const codes: number[] = []
    for (let i = 0; i < 10; i++) {
      mallory.jar.delete('sid') // only her own (rotating) remember cookie is sent: every request restores
      codes.push((await attempt(mallory, 'victim@example.com', `guess-${i}`)).status)
    }
    assert.deepEqual(codes, [303, 303, 303, 303, 303, 429, 429, 429, 429, 429], 'locked out after 5 failures')
  })

  it('a password login still clears the account’s count', async () => {
    const browser = new Browser(server.url)
    const codes: number[] = []
    for (let i = 0; i < 4; i++) codes.push((await attempt(browser, 'ada@example.com', `guess-${i}`)).status)
    codes.push((await attempt(browser, 'ada@example.com', 'ada-password')).status)
    await new Promise((resolve) => setTimeout(resolve, 20)) // the count is reset after the response, best effort
    for (let i = 0; i < 5; i++) codes.push((await attempt(new Browser(server.url), 'ada@example.com', `x-${i}`)).status)
    assert.deepEqual(codes, Array(10).fill(303))
  })
})
