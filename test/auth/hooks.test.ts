import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import { logIn, loginThrottle, memoryStore, rememberMe, requireFresh, session, sessionInfo } from '../../src/index.ts'
import { Clock } from '../support/faults.ts'
import { Browser, listen, type Running } from '../support/http.ts'

const SECRET = 'hooks-test-secret-of-at-least-32-chars'
const DAY = 86_400_000

describe('hooks for a real app: onLimited, requireFresh redirectTo, sessionInfo', () => {
  let server: Running
  const clock = new Clock(Date.now())
  before(async () => {
    const app = express()
    app.use(express.json())
    app.use(session({ secret: SECRET, store: memoryStore(), now: clock.now }))
    app.use(rememberMe())
    const throttle = loginThrottle({
      account: (req) => req.body?.email,
      perAccount: { max: 1, windowMs: 60_000 },
      onLimited: (_req, res, seconds) => {
        res.setHeader('content-type', 'text/html')
        res.end(`<p role="alert">Try again in ${seconds} seconds</p>`)
      },
    })
    app.post('/login', throttle, async (req, res) => {
      if (req.body.password !== 'right') return res.status(401).send('no')
      await logIn(req, 'u1', { remember: true })
      res.json(sessionInfo(req))
    })
    app.get('/info', (req, res) => res.json(sessionInfo(req)))
    app.get('/secret', requireFresh(60_000, { redirectTo: (req) => `/confirm?next=${req.url}` }), (_q, r) =>
      r.send('ok'),
    )
    server = await listen(app)
  })
  after(() => server.close())

  it('onLimited answers a throttled attempt, with the status and Retry-After already set', async () => {
    const browser = new Browser(server.url)
    await browser.post('/login', { email: 'x@example.com', password: 'no' })
    const limited = await browser.post('/login', { email: 'x@example.com', password: 'no' })
    assert.equal(limited.status, 429)
    assert.equal(limited.headers.get('retry-after'), '60')
    assert.equal(limited.headers.get('cache-control'), 'no-store')
    assert.equal(limited.body, '<p role="alert">Try again in 60 seconds</p>')
  })

  it('sessionInfo tells the times of a login and of a remember-me restore; requireFresh redirects HTML', async () => {
    const browser = new Browser(server.url)
    const loginAt = clock.now()
    const info = JSON.parse((await browser.post('/login', { email: 'a@example.com', password: 'right' })).body)
    assert.deepEqual(
      { ...info, createdAt: undefined, lastSeenAt: undefined },
      {
        userId: 'u1',
        authAt: loginAt,
        createdAt: undefined,
        lastSeenAt: undefined,
        expiresAt: loginAt + DAY,
        absoluteExpiresAt: loginAt + 7 * DAY,
        restored: false,
        remembered: true,
      },
    )
    assert.equal(JSON.parse((await browser.get('/info')).body).restored, false)
    clock.advance(2 * DAY) // the session expired; the remember cookie restores a new one
    const restored = JSON.parse((await browser.get('/info')).body)
    assert.equal(restored.userId, 'u1')
    assert.equal(restored.restored, true)
    assert.equal(restored.authAt, loginAt, 'the original password login')
    assert.equal(restored.createdAt, clock.now())
    const page = await browser.request('/secret', { headers: { accept: 'text/html' } })
    assert.equal(page.status, 303)
    assert.equal(page.headers.get('location'), '/confirm?next=/secret')
    assert.equal((await browser.get('/secret')).status, 401, 'JSON clients still get the 401')
    const anonymous = await new Browser(server.url).get('/info')
    assert.deepEqual(JSON.parse(anonymous.body).userId, null)
  })
})
