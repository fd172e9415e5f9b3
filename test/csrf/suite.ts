import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { hashedKey } from '../../src/core/token.ts'
import { maskToken } from '../../src/csrf/token.ts'
import type { CoatcheckStore } from '../../src/stores/types.ts'
import type { Browser } from '../support/http.ts'
import { type CsrfApp, formPost, postWith, SAME_ORIGIN, startModern, tokenIn } from './support.ts'

/** The store key of a browser's session (`sid` cookie). */
function keyOf(browser: Browser): string {
  const value = decodeURIComponent(browser.jar.get('sid')!)
  return hashedKey(value.slice(2, value.lastIndexOf('.')))
}

/** A browser with a stored, logged-in session holding a balance. */
async function loggedIn(app: CsrfApp, user = 'alice'): Promise<Browser> {
  const browser = app.browser()
  assert.equal((await postWith(browser, '/login', SAME_ORIGIN, `user=${user}`)).status, 200)
  assert.equal((await postWith(browser, '/session', SAME_ORIGIN, 'balance=100')).status, 200)
  return browser
}

const MALFORMED: Array<[string, (token: string) => Record<string, string | string[]> | string]> = [
  ['missing', () => ({})],
  ['empty', () => ({ _csrf: '' })],
  ['one character short', (t) => ({ _csrf: t.slice(1) })],
  ['one character long', (t) => ({ _csrf: `${t}A` })],
  ['bad characters', (t) => ({ _csrf: `${t.slice(0, -2)}+/` })],
  ['the token twice (an array from _csrf=a&_csrf=b)', (t) => ({ _csrf: [t, t] })],
  ['a JSON number', () => '{"_csrf":12345}'],
  ['a JSON object', (t) => `{"_csrf":{"token":"${t}"}}`],
  ['a JSON array', (t) => `{"_csrf":["${t}"]}`],
  ['100 kB', () => ({ _csrf: 'A'.repeat(100_000) })],
]

/** A store for the suite, and, where the backend allows, a count of its session rows read behind its back. */
export interface Backend {
  store: CoatcheckStore
  rows?: () => number
}

/** The token half of csrf() against one store backend (modern mode). */
export function csrfSuite(name: string, makeBackend: () => Promise<Backend>): void {
  describe(`csrf() tokens on ${name}`, () => {
    let app: CsrfApp
    let rows: (() => number) | undefined
    before(async () => {
      const backend = await makeBackend()
      rows = backend.rows
      app = await startModern(backend.store)
    })
    after(() => app.close())

    it('a cross-site form post and cross-site fetches get 403 and change nothing in the store', async () => {
      const browser = await loggedIn(app)
      const stored = await app.recorded.contents()
      const attacks: Array<Record<string, string>> = [
        { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', origin: 'https://evil.example' },
        { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors', accept: 'application/json' },
        { origin: 'https://evil.example' },
        { origin: 'null' },
      ]
      for (const headers of attacks) {
        const reply = await postWith(browser, '/transfer', headers)
        assert.equal(reply.status, 403, JSON.stringify(headers))
      }
      assert.deepEqual(await app.recorded.contents(), stored)
      const passed = await postWith(browser, '/transfer', SAME_ORIGIN)
      assert.equal(passed.status, 200)
      assert.equal(JSON.parse(passed.body).balance, 90)
    })

    it('a client that sends neither header gets 403 without a token and passes with one, from the body or a header', async () => {
      const browser = await loggedIn(app)
      const missing = await formPost(browser, '/transfer')
      assert.equal(missing.status, 403)
      assert.equal(app.events.at(-1)?.reason, 'token-missing')
      const token = tokenIn(await browser.get('/form'))
      assert.equal((await formPost(browser, '/transfer', { _csrf: token })).status, 200)
      const viaHeader = await browser.request('/transfer', { method: 'POST', headers: { 'x-csrf-token': token } })
      assert.equal(viaHeader.status, 200)
      assert.equal(JSON.parse(viaHeader.body).balance, 80)
    })

    it('a token from session A is refused with session B', async () => {
      const a = await loggedIn(app, 'alice')
      const b = await loggedIn(app, 'bob')
      const tokenA = tokenIn(await a.get('/form'))
      tokenIn(await b.get('/form')) // B has a secret of its own
      const reply = await formPost(b, '/transfer', { _csrf: tokenA })
      assert.equal(reply.status, 403)
      assert.equal(app.events.at(-1)?.reason, 'token-invalid')
      assert.equal(app.events.at(-1)?.sid?.length, 12)
    })

    it('masked tokens differ on every call and every one verifies', async () => {
      const browser = await loggedIn(app)
      const tokens: string[] = JSON.parse((await browser.get('/tokens')).body)
      tokens.push(tokenIn(await browser.get('/form')), tokenIn(await browser.get('/form')))
      assert.equal(new Set(tokens).size, tokens.length)
      for (const token of tokens) {
        assert.match(token, /^[A-Za-z0-9_-]{86}$/)
        assert.equal((await formPost(browser, '/transfer', { _csrf: token })).status, 200)
      }
    })

    it('keeps the secret in the session meta, never in the data the app sees', async () => {
      const browser = await loggedIn(app)
      tokenIn(await browser.get('/form'))
      const record = await app.recorded.inner.get(keyOf(browser))
      assert.match(String(record?.meta.csrf), /^[A-Za-z0-9_-]{43}$/)
      assert.deepEqual(Object.keys(record!.data).sort(), ['balance'])
      const seen = JSON.parse((await browser.get('/session')).body)
      assert.deepEqual(Object.keys(seen.data), ['balance'])
    })

    for (const [label, make] of MALFORMED) {
      it(`a malformed token (${label}) gets 403, never a 500`, async () => {
        const browser = await loggedIn(app)
        const token = tokenIn(await browser.get('/form'))
        const shape = make(token)
        const reply =
          typeof shape === 'string'
            ? await browser.request('/transfer', {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: shape,
              })
            : await formPost(browser, '/transfer', shape)
        assert.equal(reply.status, 403)
        const reason = app.events.at(-1)?.reason
        assert.equal(reason, label === 'missing' || label === 'empty' ? 'token-missing' : 'token-invalid')
      })
    }

    it('an anonymous page view that renders a token stores no session, and the token verifies', async () => {
      const browser = app.browser()
      const keysBefore = app.recorded.keys.size
      const rowsBefore = rows?.()
      const page = await browser.get('/login')
      const token = tokenIn(page)
      assert.equal(app.recorded.keys.size, keysBefore, 'no session record was created')
      assert.equal(rows?.(), rowsBefore, 'no row in the database either')
      assert.equal(browser.jar.has('sid'), false, 'no session cookie')
      assert.deepEqual(page.setCookies.length, 1)
      assert.match(page.setCookies[0]!, /^csrf=s%3Acsrf%3A[^;]+; Path=\/; HttpOnly; SameSite=Lax$/)
      // More page views reuse the cookie's secret: no new cookie, still nothing stored.
      const again = await browser.get('/form')
      assert.deepEqual(again.setCookies, [])
      assert.equal(app.recorded.keys.size, keysBefore)
      const posted = await formPost(browser, '/transfer', { _csrf: tokenIn(again) })
      assert.equal(posted.status, 200)
      assert.equal(app.recorded.keys.size, keysBefore + 1, 'the post stored the session')
      assert.equal((await app.recorded.inner.get(keyOf(browser)))?.meta.csrf !== undefined, true)
      // The stored session kept the pre-session secret: the first page's token still verifies.
      assert.equal((await formPost(browser, '/transfer', { _csrf: token })).status, 200)
      assert.equal(browser.jar.has('csrf'), false, 'and the pre-session cookie is gone')
    })

    it('protects the login form end to end; logIn rotates the secret', async () => {
      const browser = app.browser()
      const keysBefore = app.recorded.keys.size
      const token = tokenIn(await browser.get('/login'))
      assert.equal(app.recorded.keys.size, keysBefore, 'the login page stores no session')
      assert.equal((await formPost(browser, '/login', { user: 'carol' })).status, 403, 'no token, no login')
      assert.equal((await formPost(browser, '/login', { _csrf: 'x'.repeat(86), user: 'carol' })).status, 403)
      assert.equal(app.recorded.keys.size, keysBefore)
      const login = await formPost(browser, '/login', { _csrf: token, user: 'carol' })
      assert.equal(login.status, 200)
      assert.equal(JSON.parse((await browser.get('/session')).body).userId, 'carol')
      assert.equal(browser.jar.has('csrf'), false, 'the pre-session cookie is dropped once the session is stored')
      assert.equal((await formPost(browser, '/transfer', { _csrf: token })).status, 403, 'pre-login token is dead')
      const fresh = tokenIn(await browser.get('/form'))
      assert.equal((await formPost(browser, '/transfer', { _csrf: fresh })).status, 200)
    })

    it('logIn rotates the secret of a stored session: its tokens from before the login fail after it', async () => {
      const browser = app.browser()
      await postWith(browser, '/session', SAME_ORIGIN, 'cart=apple')
      const before = tokenIn(await browser.get('/form'))
      const secretBefore = (await app.recorded.inner.get(keyOf(browser)))?.meta.csrf
      assert.equal((await formPost(browser, '/transfer', { _csrf: before })).status, 200)
      assert.equal((await formPost(browser, '/login', { _csrf: before, user: 'dave' })).status, 200)
      assert.equal((await formPost(browser, '/transfer', { _csrf: before })).status, 403)
      const after = tokenIn(await browser.get('/form'))
      assert.notEqual((await app.recorded.inner.get(keyOf(browser)))?.meta.csrf, secretBefore)
      assert.equal((await formPost(browser, '/transfer', { _csrf: after })).status, 200)
    })

    it('a logout that renders a form issues a new pre-session secret, not the one from before the login', async () => {
      const browser = app.browser()
      const anonymous = tokenIn(await browser.get('/login'))
      assert.equal((await formPost(browser, '/login', { _csrf: anonymous })).status, 200)
      assert.equal(browser.jar.has('csrf'), true, 'the pre-session cookie is still there right after the login')
      const reply = await postWith(browser, '/logout-and-form', SAME_ORIGIN)
      assert.equal(reply.status, 200)
      assert.equal(browser.jar.has('sid'), false)
      assert.equal(browser.jar.has('csrf'), true, 'expired, then set anew')
      const { token } = JSON.parse(reply.body)
      assert.equal((await formPost(browser, '/transfer', { _csrf: token })).status, 200)
      assert.equal((await formPost(browser, '/transfer', { _csrf: anonymous })).status, 403)
    })

    it('a token rendered by the request that first stores the session keeps working', async () => {
      const browser = app.browser()
      const reply = await postWith(browser, '/cart-and-form', SAME_ORIGIN)
      const { token } = JSON.parse(reply.body)
      assert.equal(browser.jar.has('sid'), true)
      assert.equal((await formPost(browser, '/transfer', { _csrf: token })).status, 200)
    })

    it('a foreign, forged or borrowed pre-session cookie does not verify', async () => {
      const visitor = app.browser()
      const token = tokenIn(await visitor.get('/login'))
      const other = app.browser()
      tokenIn(await other.get('/login'))
      assert.equal((await formPost(other, '/transfer', { _csrf: token })).status, 403, "another visitor's token")
      other.jar.set('csrf', visitor.jar.get('csrf')!.replace('s%3Acsrf%3A', 's%3Acsrf%3AA').slice(0, -1))
      assert.equal((await formPost(other, '/transfer', { _csrf: token })).status, 403, 'a tampered cookie')
      const bare = app.browser()
      assert.equal((await formPost(bare, '/transfer', { _csrf: token })).status, 403, 'no cookie at all')
      // A session cookie is signed with the same secrets, but it never passes for a pre-session cookie.
      const member = await loggedIn(app)
      const sessionToken = decodeURIComponent(member.jar.get('sid')!).slice(2).split('.')[0]!
      bare.jar.set('csrf', member.jar.get('sid')!)
      assert.equal((await formPost(bare, '/transfer', { _csrf: maskToken(sessionToken) })).status, 403)
    })
  })
}
