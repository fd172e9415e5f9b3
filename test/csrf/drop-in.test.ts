import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import dropIn, { type CsrfOptions, csrf, MemoryStore } from '../../src/express-session/index.ts'
import type { SessionEvent } from '../../src/index.ts'
import { Browser, listen, type Running } from '../support/http.ts'
import { formPost, postWith, routes, SAME_ORIGIN, tokenIn } from './support.ts'

interface DropInApp extends Running {
  store: InstanceType<typeof MemoryStore>
  events: SessionEvent[]
  browser(): Browser
}

/** An existing express-session app that swapped its import, with csrf() from the same face. */
async function startDropIn(options: CsrfOptions = {}, trustProxy = false): Promise<DropInApp> {
  const store = new MemoryStore()
  const events: SessionEvent[] = []
  const app = express()
  app.set('env', 'test')
  if (trustProxy) app.set('trust proxy', true)
  app.use(dropIn({ secret: 'keyboard cat', resave: false, saveUninitialized: false, store }))
  app.use(express.urlencoded({ extended: false }))
  app.use(express.json({ strict: false }))
  app.use(csrf({ onEvent: (e) => events.push(e), ...options }))
  app.post('/regenerate', (req, res, next) => {
    req.session.regenerate((error: unknown) => {
      if (error) return next(error)
      ;(req.session as unknown as Record<string, unknown>).user = 'alice'
      res.json({ ok: true })
    })
  })
  routes(app)
  const running = await listen(app)
  return { ...running, store, events, browser: () => new Browser(running.url) }
}

/** The session ID inside a browser's connect.sid cookie. */
function idOf(browser: Browser): string {
  const value = decodeURIComponent(browser.jar.get('connect.sid')!)
  return value.slice(2, value.lastIndexOf('.'))
}

describe('csrf() in drop-in mode (coatcheck/express-session)', () => {
  let app: DropInApp
  before(async () => {
    app = await startDropIn()
  })
  after(() => app.close())

  async function withBalance(): Promise<Browser> {
    const browser = app.browser()
    assert.equal((await postWith(browser, '/session', SAME_ORIGIN, 'balance=100')).status, 200)
    return browser
  }

  it('cross-site posts get 403 and change nothing in the store; same-origin passes', async () => {
    const browser = await withBalance()
    const stored = structuredClone({ ...app.store.sessions })
    for (const headers of [
      { 'sec-fetch-site': 'cross-site' },
      { origin: 'https://evil.example' },
      { origin: 'null' },
    ] as Array<Record<string, string>>) {
      assert.equal((await postWith(browser, '/transfer', headers)).status, 403, JSON.stringify(headers))
    }
    assert.deepEqual({ ...app.store.sessions }, stored)
    assert.equal((await postWith(browser, '/transfer', SAME_ORIGIN)).status, 200)
    assert.equal(JSON.parse(app.store.sessions[idOf(browser)]!).balance, 90)
  })

  it('keeps the secret in the express-session record as csrfSecret, as csurf did', async () => {
    const browser = await withBalance()
    assert.equal((await formPost(browser, '/transfer')).status, 403)
    assert.equal(app.events.at(-1)?.reason, 'token-missing')
    const token = tokenIn(await browser.get('/form'))
    const record = JSON.parse(app.store.sessions[idOf(browser)]!)
    assert.match(record.csrfSecret, /^[A-Za-z0-9_-]{43}$/)
    assert.equal((await formPost(browser, '/transfer', { _csrf: token })).status, 200)
    const viaHeader = await browser.request('/transfer', { method: 'POST', headers: { 'x-csrf-token': token } })
    assert.equal(viaHeader.status, 200)
  })

  it('masked tokens differ and all verify; a token from session A fails with session B', async () => {
    const a = await withBalance()
    const b = await withBalance()
    const tokens: string[] = JSON.parse((await a.get('/tokens')).body)
    assert.equal(new Set(tokens).size, 3)
    for (const token of tokens) assert.equal((await formPost(a, '/transfer', { _csrf: token })).status, 200)
    tokenIn(await b.get('/form'))
    assert.equal((await formPost(b, '/transfer', { _csrf: tokens[0]! })).status, 403)
    assert.equal(app.events.at(-1)?.reason, 'token-invalid')
    assert.equal(app.events.at(-1)?.sid?.length, 12)
  })

  it('regenerate (the express-session login) rotates the secret', async () => {
    const browser = await withBalance()
    const before = tokenIn(await browser.get('/form'))
    assert.equal((await formPost(browser, '/regenerate', { _csrf: before })).status, 200)
    assert.equal((await formPost(browser, '/transfer', { _csrf: before })).status, 403)
    const after = tokenIn(await browser.get('/form'))
    assert.equal((await formPost(browser, '/transfer', { _csrf: after })).status, 200)
  })

  it('malformed tokens get 403, never a 500', async () => {
    const browser = await withBalance()
    const token = tokenIn(await browser.get('/form'))
    const json = (body: string) =>
      browser.request('/transfer', { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    for (const reply of [
      await formPost(browser, '/transfer', { _csrf: [token, token] }),
      await formPost(browser, '/transfer', { _csrf: token.slice(2) }),
      await formPost(browser, '/transfer', { _csrf: 'A'.repeat(100_000) }),
      await json('{"_csrf":42}'),
      await json('{"_csrf":{"a":1}}'),
    ]) {
      assert.equal(reply.status, 403)
    }
  })

  it('rendering a token stores the new session, as with csurf and saveUninitialized: false', async () => {
    const browser = app.browser()
    const before = Object.keys(app.store.sessions).length
    const token = tokenIn(await browser.get('/form'))
    assert.equal(Object.keys(app.store.sessions).length, before + 1)
    assert.equal((await formPost(browser, '/transfer', { _csrf: token })).status, 200)
  })

  it("follows Express's trust proxy for X-Forwarded-Host, and reports in reportOnly mode", async () => {
    const proxied = { origin: 'https://app.example', 'x-forwarded-host': 'app.example', 'x-forwarded-proto': 'https' }
    assert.equal((await postWith(app.browser(), '/transfer', proxied)).status, 403)
    const trusting = await startDropIn({ reportOnly: true }, true)
    try {
      assert.equal((await postWith(trusting.browser(), '/transfer', proxied)).status, 200)
      assert.equal(trusting.events.length, 0)
      const cross = await postWith(trusting.browser(), '/transfer', { 'sec-fetch-site': 'cross-site' })
      assert.equal(cross.status, 200)
      const { sid, ...event } = trusting.events.at(-1)!
      assert.equal(sid?.length, 12)
      assert.deepEqual(event, { type: 'csrf-rejected', reason: 'cross-site', reportOnly: true })
    } finally {
      await trusting.close()
    }
  })
})
