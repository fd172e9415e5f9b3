import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import { type Browser, type BrowserContext, type Cookie, chromium, type Page, type Response } from 'playwright-core'
import { hashPassword, logIn, logOut, memoryStore, requireAuth, session, verifyPassword } from '../../src/index.ts'
import { requireBinary } from '../support/binaries.ts'
import { listen, type Running } from '../support/http.ts'

const SECRET = 'browser-test-secret-that-is-32-chars-or-more'
const PASSWORD = 'correct horse battery staple'
const IDLE_TIMEOUT = 30 * 60_000
const COOKIE = 'sid' // the default name of a cookie sent over plain HTTP

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

const loginForm = (error?: string) => `<!doctype html><meta charset="utf-8"><title>Sign in</title>
${error ? `<p id="error">${escapeHtml(error)}</p>` : ''}
<form id="login" method="post" action="/login">
<input name="user" autocomplete="username"> <input name="password" type="password" autocomplete="current-password">
<button>Sign in</button></form>`

/** The app a browser talks to: HTML pages and form posts, as a server-rendered site would have them. */
async function startSite(): Promise<Running> {
  const users = new Map([['ada', await hashPassword(PASSWORD)]])
  const store = memoryStore()
  const app = express()
  app.set('env', 'test')
  app.use(express.urlencoded({ extended: false }))
  app.use(session({ secret: SECRET, store, idleTimeout: IDLE_TIMEOUT }))
  app.get('/', (req, res) => {
    const user = req.session.userId
    res.type('html').send(
      user
        ? `<!doctype html><meta charset="utf-8"><title>Home</title>
<p id="who">signed in as ${escapeHtml(user)}</p>
<form id="logout" method="post" action="/logout"><button>Sign out</button></form>`
        : loginForm(),
    )
  })
  app.post('/login', async (req, res) => {
    const name = String(req.body?.user ?? '')
    const { ok } = await verifyPassword(users.get(name), String(req.body?.password ?? ''))
    if (!ok || !users.has(name)) return res.status(401).type('html').send(loginForm('Wrong user name or password'))
    await logIn(req, name)
    res.redirect(303, '/')
  })
  app.post('/logout', async (req, res) => {
    await logOut(req, res)
    res.redirect(303, '/')
  })
  app.get('/me', requireAuth(), (req, res) => {
    res.json({ userId: req.session.userId })
  })
  const running = await listen(app)
  return {
    ...running,
    close: async () => {
      await running.close()
      await store.close?.()
    },
  }
}

/** Submits a form by clicking its button and waits for the page the navigation ends on (after any redirect). */
async function submit(page: Page, form: string): Promise<Response> {
  const [landed] = await Promise.all([
    page.waitForResponse((r) => r.request().isNavigationRequest() && (r.status() < 300 || r.status() >= 400)),
    page.click(`${form} button`),
  ])
  await page.waitForLoadState('domcontentloaded')
  return landed
}

/** Submits `form`, asserting it was a POST answered by a 303 to `/`, and returns the landing page. */
async function submitAndFollow(page: Page, form: string, site: string): Promise<Response> {
  const landed = await submit(page, form)
  const post = landed.request().redirectedFrom()
  assert.ok(post, 'the form post was redirected')
  assert.equal(post.method(), 'POST')
  assert.equal((await post.response())?.status(), 303)
  assert.equal(landed.url(), `${site}/`)
  assert.equal(landed.status(), 200)
  return landed
}

describe('in Chromium: a form login, the session cookie, and logout', () => {
  let site: Running
  let browser: Browser
  let context: BrowserContext
  let page: Page

  const sessionCookie = async (): Promise<Cookie | undefined> =>
    (await context.cookies(site.url)).find((c) => c.name === COOKIE)
  // The page's own view of its cookies: an HttpOnly cookie must not be in it.
  const pageCookies = () => page.evaluate<string>('document.cookie')
  const fetchMe = () =>
    page.evaluate(async () => {
      const response = await fetch('/me')
      return { status: response.status, body: await response.json() }
    })

  before(async () => {
    site = await startSite()
    browser = await chromium.launch({
      executablePath: requireBinary('chromium', 'chromium'),
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
      timeout: 30_000,
    })
    context = await browser.newContext()
    context.setDefaultTimeout(10_000)
    page = await context.newPage()
  })

  after(async () => {
    await browser?.close()
    await site?.close()
  })

  // The steps below run in order on one page: each starts where the previous one left the browser.
  it('shows an anonymous visitor the login form and sets no cookie', async () => {
    const response = await page.goto(`${site.url}/`)
    assert.equal(response?.status(), 200)
    assert.equal(response?.headers()['set-cookie'], undefined)
    assert.equal(await page.locator('form#login').count(), 1)
    assert.equal(await page.locator('#who').count(), 0)
    assert.equal(await pageCookies(), '')
    assert.deepEqual(await context.cookies(), [])
  })

  it('logs in by a form post whose 303 lands on a page that already knows the user', async () => {
    await page.fill('input[name=user]', 'ada')
    await page.fill('input[name=password]', PASSWORD)
    const start = Date.now()
    await submitAndFollow(page, 'form#login', site.url)
    assert.equal(await page.textContent('#who'), 'signed in as ada')

    const cookie = await sessionCookie()
    assert.ok(cookie, 'the session cookie is set')
    assert.equal(cookie.httpOnly, true)
    assert.equal(cookie.sameSite, 'Lax')
    assert.equal(cookie.path, '/')
    assert.equal(cookie.domain, '127.0.0.1') // host-only: no Domain attribute
    assert.equal(cookie.secure, false) // plain HTTP
    // `s:<256-bit token, base64url>.<HMAC>` URI-encoded: an opaque ticket, nothing about the user in it.
    assert.match(decodeURIComponent(cookie.value), /^s:[A-Za-z0-9_-]{43}\.[A-Za-z0-9+/]{43}$/)
    // A persistent cookie whose Max-Age is the idle timeout.
    const expected = (start + IDLE_TIMEOUT) / 1000
    assert.ok(Math.abs(cookie.expires - expected) < 10, `expires ${cookie.expires}, expected about ${expected}`)
    assert.equal(await pageCookies(), '')
  })

  it('answers fetch("/me") from the page with the user', async () => {
    assert.deepEqual(await fetchMe(), { status: 200, body: { userId: 'ada' } })
  })

  it('logs out by a form post: the cookie is gone and replaying it is anonymous', async () => {
    const old = await sessionCookie()
    assert.ok(old)
    await submitAndFollow(page, 'form#logout', site.url)
    assert.equal(await page.locator('form#login').count(), 1)
    assert.equal(await page.locator('#who').count(), 0)
    assert.equal(await sessionCookie(), undefined)
    assert.deepEqual(await fetchMe(), { status: 401, body: { error: 'Unauthorized' } })

    await context.addCookies([old])
    assert.equal((await sessionCookie())?.value, old.value)
    const home = await page.goto(`${site.url}/`)
    assert.equal(home?.status(), 200)
    assert.equal(await page.locator('form#login').count(), 1)
    assert.equal(await page.locator('#who').count(), 0)
    const me = await page.goto(`${site.url}/me`)
    assert.equal(me?.status(), 401)
    assert.deepEqual(await me?.json(), { error: 'Unauthorized' })
  })

  it('answers a wrong password with a 401 error page and no cookie', async () => {
    await context.clearCookies()
    await page.goto(`${site.url}/`)
    await page.fill('input[name=user]', 'ada')
    await page.fill('input[name=password]', 'not the password')
    const response = await submit(page, 'form#login')
    assert.equal(response.request().method(), 'POST')
    assert.equal(response.request().redirectedFrom(), null)
    assert.equal(response.status(), 401)
    assert.equal(response.headers()['set-cookie'], undefined)
    assert.equal(await page.textContent('#error'), 'Wrong user name or password')
    assert.equal(await page.locator('form#login').count(), 1)
    assert.deepEqual(await context.cookies(), [])
    assert.deepEqual(await fetchMe(), { status: 401, body: { error: 'Unauthorized' } })
  })
})
