import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { sign } from '../../src/core/token.ts'
import { memoryStore } from '../../src/index.ts'
import { session } from '../../src/session/middleware.ts'
import { Browser, listen, send } from '../support/http.ts'
import { SECRET, tokenOf } from './harness.ts'

const NEW_SECRET = 'rotated-secret-that-is-at-least-32-chars'

describe('secret rotation', () => {
  it('cookies signed with an old secret still verify; new cookies are signed with the first secret', async (t) => {
    const store = memoryStore()
    t.after(() => store.close?.())
    const appWith = async (secret: string | string[]) => {
      const { default: express } = await import('express')
      const app = express()
      app.use(session({ secret, store }))
      app.get('/login', (req, res) => {
        req.session.user = 'u1'
        res.end()
      })
      app.get('/me', (req, res) => {
        res.json({ user: req.session.user ?? null })
      })
      app.post('/rotate', async (req, res) => {
        await req.session.regenerate({ keep: true })
        res.end()
      })
      return listen(app)
    }

    const before = await appWith(SECRET)
    t.after(() => before.close())
    const browser = new Browser(before.url)
    await browser.get('/login')
    const token = tokenOf(browser)
    assert.equal(decodeURIComponent(browser.jar.get('sid')!), sign(token, SECRET))

    const rotated = await appWith([NEW_SECRET, SECRET])
    t.after(() => rotated.close())
    const cookie = browser.cookieHeader()
    assert.deepEqual(JSON.parse((await send(`${rotated.url}/me`, { cookie })).body), { user: 'u1' })

    const next = new Browser(rotated.url)
    next.jar.set('sid', browser.jar.get('sid')!)
    await next.request('/rotate', { method: 'POST' })
    assert.equal(decodeURIComponent(next.jar.get('sid')!), sign(tokenOf(next), NEW_SECRET))

    const dropped = await appWith(NEW_SECRET)
    t.after(() => dropped.close())
    assert.deepEqual(JSON.parse((await send(`${dropped.url}/me`, { cookie })).body), { user: null })
    assert.deepEqual(JSON.parse((await send(`${dropped.url}/me`, { cookie: next.cookieHeader() })).body), {
      user: 'u1',
    })
  })
})
