import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Browser, Cookie } from 'playwright-core'
import { type RunningApp, startApp } from './support/app.ts'
import { type Device, heading, land, launchChromium, newDevice, shoot } from './support/browser.ts'

const EMAIL = 'katherine@example.com'
const PASSWORD = 'orbital mechanics by hand'
const IDLE_SECONDS = 3
const DAY = 86_400

describe('in Chromium: "Remember me" outlives the session and the browser', () => {
  let app: RunningApp
  let browser: Browser
  let device: Device

  const persistent = (cookies: Cookie[]) => cookies.filter((c) => c.expires > Date.now() / 1000)

  before(async () => {
    // A session that expires after 3 idle seconds, so that what restores it later can only be the remember-me cookie.
    app = await startApp({ IDLE_TIMEOUT: `${IDLE_SECONDS}s` })
    browser = await launchChromium()
    device = await newDevice(browser)
  })

  after(async () => {
    await browser?.close()
    await app?.stop()
  })

  it('signs in with "Remember me": a long-lived remember cookie, HttpOnly, SameSite=Lax, host-only', async () => {
    const { page, context } = device
    await page.goto(`${app.url}/register`)
    await page.getByLabel('Email').fill(EMAIL)
    await page.getByLabel('Password').fill(PASSWORD)
    await land(page, page.getByRole('button', { name: 'Create account' }))
    await land(page, page.locator('header').getByRole('button', { name: 'Sign out' }))
    await page.goto(`${app.url}/login`)
    await page.getByLabel('Email').fill(EMAIL)
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByLabel('Remember me').check()
    const start = Date.now() / 1000
    await land(page, page.locator('main').getByRole('button', { name: 'Sign in' }))
    assert.equal(await heading(page), 'Dashboard')
    assert.equal(await page.locator('#remembered').innerText(), 'Yes')
    assert.equal(await page.locator('#restored').innerText(), 'No')

    const cookies = await context.cookies(app.url)
    const remember = cookies.find((c) => c.name === 'remember')
    assert.ok(remember, 'the remember cookie is set')
    assert.equal(remember.httpOnly, true)
    assert.equal(remember.sameSite, 'Lax')
    assert.equal(remember.domain, '127.0.0.1')
    assert.ok(Math.abs(remember.expires - (start + 30 * DAY)) < 10, 'it lasts 30 days')
    const sid = cookies.find((c) => c.name === 'sid')
    assert.ok(sid && Math.abs(sid.expires - (start + IDLE_SECONDS)) < 2, 'the session cookie lasts the idle timeout')
  })

  it('closes the browser keeping only persistent cookies, reopens it, and is still signed in, as restored', async () => {
    await sleep(IDLE_SECONDS * 1000 + 500) // the session expires, here and on the server
    const kept = persistent((await device.context.storageState()).cookies)
    await device.context.close()
    assert.deepEqual(
      kept.map((c) => c.name),
      ['remember'],
      'the session cookie is gone: only remember-me can sign this browser in',
    )

    device = await newDevice(browser, { storageState: { cookies: kept, origins: [] } })
    const { page } = device
    const response = await page.goto(`${app.url}/dashboard`)
    assert.equal(response?.status(), 200)
    assert.equal(response?.request().redirectedFrom(), null, 'no detour through the sign-in page')
    assert.equal(await page.locator('#who').innerText(), EMAIL)
    assert.equal(await page.locator('#restored').innerText(), 'Yes')
    assert.equal(await page.locator('#remembered').innerText(), 'Yes')
    await shoot(page, 'dashboard-restored')
  })

  it('asks a restored session for its password before "Change password", then goes back there', async () => {
    const { page } = device
    const asked = await land(page, page.locator('header').getByRole('link', { name: 'Change password' }))
    assert.equal(new URL(asked.url()).pathname, '/confirm')
    assert.equal(await heading(page), 'Confirm your password')
    await shoot(page, 'confirm')
    await page.getByLabel('Password').fill('not it')
    const wrong = await land(page, page.getByRole('button', { name: 'Confirm' }))
    assert.equal(wrong.status(), 401)
    assert.equal(await page.getByRole('alert').innerText(), 'Wrong password.')

    await page.getByLabel('Password').fill(PASSWORD)
    const back = await land(page, page.getByRole('button', { name: 'Confirm' }))
    assert.equal(new URL(back.url()).pathname, '/password')
    assert.equal(await heading(page), 'Change password')
    await land(page, page.locator('header').getByRole('link', { name: 'Dashboard' }))
    assert.equal(await page.locator('#restored').innerText(), 'No', 'signed in with the password again')
    assert.equal(await page.locator('#remembered').innerText(), 'Yes', 'and still remembered')
  })
})
