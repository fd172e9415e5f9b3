import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser, BrowserContext, Cookie, Page } from 'playwright-core'
import { postForm, type RunningApp, startApp } from './support/app.ts'
import { flash, heading, land, launchChromium, newDevice, redirectedPost, shoot } from './support/browser.ts'

const EMAIL = 'ada@example.com'
const PASSWORD = 'correct horse battery staple'
const DAY = 86_400_000

describe('in Chromium: create an account, sign in, stay in, sign out', () => {
  let app: RunningApp
  let browser: Browser
  let context: BrowserContext
  let page: Page

  const cookie = async (name: string): Promise<Cookie | undefined> =>
    (await context.cookies(app.url)).find((c) => c.name === name)
  // The page's own view of its cookies: an HttpOnly cookie is never in it.
  const pageCookies = () => page.evaluate<string>('document.cookie')
  const fetchMe = () =>
    page.evaluate(async () => {
      const response = await fetch('/api/me')
      return { status: response.status, body: (await response.json()) as Record<string, unknown> }
    })
  const signIn = async (email: string, password: string) => {
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Password').fill(password)
    return land(page, page.locator('main').getByRole('button', { name: 'Sign in' }))
  }

  before(async () => {
    app = await startApp()
    browser = await launchChromium()
    ;({ context, page } = await newDevice(browser))
  })

  after(async () => {
    await browser?.close()
    await app?.stop()
  })

  // The steps run in order on one page: each starts where the previous one left the browser.
  it('shows an anonymous visitor the home page, with "Sign in" and "Create account", and sets no cookie', async () => {
    const response = await page.goto(`${app.url}/`)
    assert.equal(response?.status(), 200)
    assert.equal(response?.headers()['set-cookie'], undefined)
    assert.equal(await page.locator('main').getByRole('link', { name: 'Sign in' }).count(), 1)
    assert.equal(await page.locator('main').getByRole('link', { name: 'Create account' }).count(), 1)
    assert.deepEqual(await context.cookies(), [])
    await shoot(page, 'home')
  })

  it('creates an account by a form post whose 303 lands on the dashboard, signed in', async () => {
    await land(page, page.locator('main').getByRole('link', { name: 'Create account' }))
    assert.equal(await heading(page), 'Create account')
    assert.match(await page.locator('.hint').innerText(), /At least 10 characters/)
    await shoot(page, 'register')
    assert.equal(await cookie('sid'), undefined, 'rendering a form stores no session')

    await page.getByLabel('Email').fill(EMAIL)
    await page.getByLabel('Password').fill(PASSWORD)
    const start = Date.now()
    const landed = await land(page, page.getByRole('button', { name: 'Create account' }))
    assert.deepEqual(await redirectedPost(landed), { method: 'POST', status: 303 })
    assert.equal(landed.url(), `${app.url}/dashboard`)
    assert.equal(await heading(page), 'Dashboard')
    assert.equal(await page.locator('#who').innerText(), EMAIL)
    assert.equal(await flash(page), 'Welcome! Your account is ready.')
    assert.equal(await page.locator('#restored').innerText(), 'No')
    assert.equal(landed.headers()['cache-control'], 'no-store')
    await shoot(page, 'dashboard')

    // The session cookie, read from the browser: an opaque ticket, HttpOnly, SameSite=Lax, host-only.
    const sid = await cookie('sid')
    assert.ok(sid, 'the session cookie is set')
    assert.equal(sid.httpOnly, true)
    assert.equal(sid.sameSite, 'Lax')
    assert.equal(sid.path, '/')
    assert.equal(sid.domain, '127.0.0.1') // host-only: no Domain attribute (that would read ".127.0.0.1")
    assert.equal(sid.secure, false) // plain HTTP
    assert.match(decodeURIComponent(sid.value), /^s:[A-Za-z0-9_-]{43}\.[A-Za-z0-9+/]{43}$/)
    const expected = (start + DAY) / 1000 // Max-Age: the idle timeout (24 h)
    assert.ok(Math.abs(sid.expires - expected) < 10, `expires ${sid.expires}, expected about ${expected}`)
    for (const c of await context.cookies()) {
      assert.equal(c.httpOnly, true, `${c.name} is HttpOnly`)
      assert.equal(c.sameSite, 'Lax', `${c.name} is SameSite=Lax`)
      assert.equal(c.domain, '127.0.0.1', `${c.name} has no Domain`)
    }
    assert.equal(await pageCookies(), '')
  })

  it('answers fetch("/api/me") from the page, and stays signed in across a reload', async () => {
    const me = await fetchMe()
    assert.equal(me.status, 200)
    assert.equal(me.body.email, EMAIL)
    const reloaded = await page.reload()
    assert.equal(reloaded?.status(), 200)
    assert.equal(await page.locator('#who').innerText(), EMAIL)
    assert.equal(await flash(page), null, 'a flash message shows once')
  })

  it('signs out by the header\'s POST button: "Signed out", and the back button shows nothing private', async () => {
    const old = await cookie('sid')
    assert.ok(old)
    const landed = await land(page, page.locator('header').getByRole('button', { name: 'Sign out' }))
    assert.deepEqual(await redirectedPost(landed), { method: 'POST', status: 303 })
    assert.equal(landed.url(), `${app.url}/`)
    assert.equal(await flash(page), 'Signed out')
    assert.equal(await page.locator('header').getByRole('link', { name: 'Sign in' }).count(), 1)
    assert.notEqual((await cookie('sid'))?.value, old.value)
    assert.deepEqual(await fetchMe(), { status: 401, body: { error: 'Unauthorized' } })
    await shoot(page, 'signed-out')

    // Back to the dashboard: it was no-store, so the browser asks again and is sent to sign in.
    const back = await page.goBack()
    assert.equal(new URL(page.url()).pathname, '/login')
    assert.equal(back?.status(), 200)
    assert.equal(await heading(page), 'Sign in')
    assert.doesNotMatch(await page.content(), new RegExp(EMAIL))

    // The old cookie, replayed, is nobody's.
    await context.addCookies([old])
    await page.goto(`${app.url}/dashboard`)
    assert.equal(await heading(page), 'Sign in')
    assert.deepEqual(await fetchMe(), { status: 401, body: { error: 'Unauthorized' } })
  })

  it('answers a wrong password with one generic error (role="alert"), a 401, and no session', async () => {
    await context.clearCookies()
    await page.goto(`${app.url}/login`)
    await page.getByLabel('Email').focus() // the screenshot shows the focus ring
    await shoot(page, 'login')
    const response = await signIn(EMAIL, 'not the password')
    assert.equal(response.status(), 401)
    assert.equal(response.request().redirectedFrom(), null)
    assert.equal(await page.getByRole('alert').innerText(), 'Wrong email or password.')
    assert.equal(await page.getByLabel('Email').inputValue(), EMAIL)
    assert.equal(await cookie('sid'), undefined)
    await shoot(page, 'login-error')
    // An unknown account gets the very same answer.
    const unknown = await signIn('nobody@example.com', 'not the password')
    assert.equal(unknown.status(), 401)
    assert.equal(await page.getByRole('alert').innerText(), 'Wrong email or password.')
  })

  it('returns to ?next= when it is a local path, and to the dashboard otherwise', async () => {
    // A protected page sends a visitor to sign in, and back.
    await page.goto(`${app.url}/devices`)
    assert.equal(new URL(page.url()).search, `?next=${encodeURIComponent('/devices')}`)
    assert.equal(new URL((await signIn(EMAIL, PASSWORD)).url()).pathname, '/devices')
    // Elsewhere: never (the other hostile forms are checked in app.test.ts).
    await land(page, page.locator('header').getByRole('button', { name: 'Sign out' }))
    await page.goto(`${app.url}/login?next=${encodeURIComponent('//evil.example/x')}`)
    assert.equal((await signIn(EMAIL, PASSWORD)).url(), `${app.url}/dashboard`)
  })

  it('says a duplicate email is taken', async () => {
    await land(page, page.locator('header').getByRole('button', { name: 'Sign out' }))
    await page.goto(`${app.url}/register`)
    await page.getByLabel('Email').fill(` ${EMAIL.toUpperCase()} `)
    await page.getByLabel('Password').fill('another long password')
    const response = await land(page, page.getByRole('button', { name: 'Create account' }))
    assert.equal(response.status(), 409)
    assert.match(await page.getByRole('alert').innerText(), /already exists/)
    await shoot(page, 'register-error')
  })

  it('says when to try again after too many attempts (429, Retry-After)', async () => {
    // Five wrong guesses at one account from this same IP (by a script), then the browser's sixth is refused.
    const statuses = []
    for (let i = 0; i < 5; i++) {
      statuses.push(await postForm(app.url, '/login', { email: 'mallory@example.com', password: `guess ${i}` }))
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401])
    await page.goto(`${app.url}/login`)
    const response = await signIn('mallory@example.com', 'one more guess')
    assert.equal(response.status(), 429)
    assert.equal(response.headers()['retry-after'], '60')
    assert.equal(await page.getByRole('alert').innerText(), 'Too many attempts. Try again in 1 minute.')
    await shoot(page, 'login-throttled')
  })

  it('has a page for an unknown path', async () => {
    const response = await page.goto(`${app.url}/no/such/page`)
    assert.equal(response?.status(), 404)
    assert.equal(await heading(page), 'Page not found')
    await shoot(page, 'not-found')
  })
})
