import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { send } from '../support/http.ts'
import { startApp } from './harness.ts'

const HTTPS = { 'x-forwarded-proto': 'https' }

async function created(options: Parameters<typeof startApp>[0], headers: Record<string, string> = {}) {
  const app = await startApp(options)
  try {
    const reply = await send(`${app.url}/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: '{"a":1}',
    })
    return reply.setCookies[0] ?? ''
  } finally {
    await app.close()
  }
}

describe('secure cookies and proxies', () => {
  it('over plain HTTP the cookie is not Secure and has no prefix', async () => {
    assert.match(await created({}), /^sid=.*; HttpOnly; SameSite=Lax$/)
  })

  it('X-Forwarded-Proto is ignored unless trustProxy is set', async () => {
    assert.match(await created({}, HTTPS), /^sid=/)
    const cookie = await created({ trustProxy: true }, HTTPS)
    assert.match(cookie, /^__Host-sid=s%3A.*; Path=\/; Max-Age=86400; HttpOnly; Secure; SameSite=Lax$/)
    assert.doesNotMatch(cookie, /Domain=/)
  })

  it('a hop count or a function decides which proxy to believe', async () => {
    assert.match(await created({ trustProxy: 1 }, HTTPS), /^__Host-sid=/)
    assert.match(await created({ trustProxy: 0 }, HTTPS), /^sid=/)
    assert.match(await created({ trustProxy: (address) => address === '127.0.0.1' }, HTTPS), /^__Host-sid=/)
    assert.match(await created({ trustProxy: (address) => address === '10.0.0.1' }, HTTPS), /^sid=/)
  })

  it('secure: true always sets Secure; a domain or path switches the prefix to __Secure-', async () => {
    assert.match(await created({ cookie: { secure: true } }), /^__Host-sid=.*; Secure/)
    const scoped = await created({ cookie: { secure: true, domain: 'example.com', path: '/app' } })
    assert.match(scoped, /^__Secure-sid=.*; Path=\/app; Max-Age=86400; Domain=example.com; HttpOnly; Secure/)
  })

  it('renders every cookie attribute', async () => {
    const cookie = await created({
      name: 'app',
      cookie: { secure: true, sameSite: 'none', partitioned: true, priority: 'high', httpOnly: false },
    })
    assert.match(cookie, /^app=s%3A[^;]+; Path=\/; Max-Age=86400; Secure; SameSite=None; Partitioned; Priority=High$/)
    assert.match(await created({ cookie: { sameSite: false } }), /^sid=[^;]+; Path=\/; Max-Age=86400; HttpOnly$/)
  })

  it('a secure request reads the __Host- cookie, not a plain cookie of the same base name', async () => {
    const app = await startApp({ cookie: { secure: true } })
    try {
      const planted = await send(`${app.url}/session`, { cookie: 'sid=s%3Aattacker.sig' })
      assert.deepEqual(JSON.parse(planted.body).data, {})
      const browser = app.browser()
      await browser.post('/session', { a: 1 })
      assert.ok(browser.jar.has('__Host-sid'))
      assert.deepEqual(JSON.parse((await browser.get('/session')).body).data, { a: 1 })
    } finally {
      await app.close()
    }
  })
})
