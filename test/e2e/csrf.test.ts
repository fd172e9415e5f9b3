import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { type RunningApp, startApp } from './support/app.ts'
import { type Attacker, startAttacker } from './support/attacker.ts'
import {
  type Device,
  flash,
  heading,
  land,
  launchChromium,
  newDevice,
  SAFARI_ON_IOS,
  shoot,
} from './support/browser.ts'

const EMAIL = 'margaret@example.com'
const PASSWORD = 'the code that flew to the moon'

const devices = (page: Page) => page.locator('ul.devices > li').allInnerTexts()
const rejections = (app: RunningApp) => app.output().match(/csrf-rejected \(cross-site\)/g)?.length ?? 0

describe('in Chromium: a cross-site attacker changes nothing', () => {
  let app: RunningApp
  let attacker: Attacker
  let browser: Browser
  let victim: Device // the device that visits the attacker's site
  let other: Device // the victim's other device, which the attacker wants signed out

  /** Both devices are still signed in, and "Your devices" still lists both. */
  async function nothingChanged() {
    await other.page.goto(`${app.url}/devices`)
    assert.equal(await heading(other.page), 'Your devices')
    assert.equal((await devices(other.page)).length, 2)
    await victim.page.goto(`${app.url}/dashboard`)
    assert.equal(await heading(victim.page), 'Dashboard')
  }

  before(async () => {
    app = await startApp()
    attacker = await startAttacker()
    browser = await launchChromium()
    victim = await newDevice(browser)
    other = await newDevice(browser, { userAgent: SAFARI_ON_IOS })
    await victim.page.goto(`${app.url}/register`)
    await victim.page.getByLabel('Email').fill(EMAIL)
    await victim.page.getByLabel('Password').fill(PASSWORD)
    await land(victim.page, victim.page.getByRole('button', { name: 'Create account' }))
    await other.page.goto(`${app.url}/login`)
    await other.page.getByLabel('Email').fill(EMAIL)
    await other.page.getByLabel('Password').fill(PASSWORD)
    await land(other.page, other.page.locator('main').getByRole('button', { name: 'Sign in' }))
    await nothingChanged()
  })

  after(async () => {
    await browser?.close()
    await attacker?.close()
    await app?.stop()
  })

  it('refuses a forged, auto-submitted "Sign out everywhere else" form from another site (403)', async () => {
    const target = `${app.url}/devices/sign-out-others`
    assert.notEqual(new URL(attacker.url).hostname, new URL(app.url).hostname)
    const [answer] = await Promise.all([
      victim.page.waitForResponse((r) => r.url() === target && r.request().method() === 'POST'),
      victim.page.goto(`${attacker.url}/form?action=${encodeURIComponent(target)}`),
    ])
    assert.equal(answer.status(), 403)
    assert.equal(answer.headers()['cache-control'], 'no-store')
    // The app's own page (csrf({ onRejected }) hands the refusal to its error handler), in its layout.
    await victim.page.waitForURL(target)
    assert.equal(await heading(victim.page), 'Request refused')
    assert.match(await victim.page.locator('main').innerText(), /nothing was changed/)
    await shoot(victim.page, 'csrf-refused')
    assert.equal(rejections(app), 1, 'it reached the app, and csrf() refused it as cross-site')
    await nothingChanged()
  })

  it('gives a credentialed cross-site fetch nothing to read, and lets it change nothing', async () => {
    const handle = await other.page.evaluate(async () => {
      const sessions = (await (await fetch('/api/sessions')).json()) as Array<{ handle: string; current: boolean }>
      return sessions.find((s) => s.current)?.handle
    })
    assert.ok(handle)
    const page = `${attacker.url}/fetch?app=${encodeURIComponent(app.url)}&handle=${handle}`
    await victim.page.goto(page)
    const result = victim.page.locator('#result')
    await result.filter({ hasNotText: 'running' }).waitFor()
    assert.deepEqual(JSON.parse(await result.innerText()), {
      read: 'blocked', // no CORS: the response is not the attacker's to read
      logout: 'sent', // an opaque no-cors POST does leave the browser...
      revoke: 'blocked', // a DELETE needs a CORS preflight, which the app does not grant
    })
    assert.equal(rejections(app), 2, '...and csrf() refused it')
    await nothingChanged()
  })

  it('while the same button, pressed on the app itself, works', async () => {
    await victim.page.goto(`${app.url}/devices`)
    await land(victim.page, victim.page.getByRole('button', { name: 'Sign out everywhere else' }))
    assert.equal(await flash(victim.page), 'Signed out everywhere else')
    assert.equal((await devices(victim.page)).length, 1)
    await land(other.page, other.page.locator('header').getByRole('link', { name: 'Dashboard' }))
    assert.equal(await heading(other.page), 'Sign in')
  })
})
