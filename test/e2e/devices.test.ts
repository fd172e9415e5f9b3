import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { type RunningApp, startApp } from './support/app.ts'
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

const EMAIL = 'grace@example.com'
const PASSWORD = 'a long and unguessable password'
const NEW_PASSWORD = 'an even longer, newer password'

/** The device entries of "Your devices", as text. */
const devices = (page: Page) => page.locator('ul.devices > li').allInnerTexts()
const nav = (page: Page, name: string) => land(page, page.locator('header').getByRole('link', { name }))

async function signIn(page: Page, email: string, password: string) {
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  return land(page, page.locator('main').getByRole('button', { name: 'Sign in' }))
}

describe('in Chromium, without JavaScript: two browser contexts are two devices of one account', () => {
  let app: RunningApp
  let browser: Browser
  let laptop: Device // Chrome on Linux
  let phone: Device // Safari on iOS

  before(async () => {
    app = await startApp()
    browser = await launchChromium()
    // Without JavaScript: every page works by links and form posts alone.
    laptop = await newDevice(browser, { javaScriptEnabled: false })
    phone = await newDevice(browser, { userAgent: SAFARI_ON_IOS, javaScriptEnabled: false })
  })

  after(async () => {
    await browser?.close()
    await app?.stop()
  })

  it('shows the second device the first in "Your devices", labelled, with IP and last seen', async () => {
    await laptop.page.goto(`${app.url}/register`)
    await laptop.page.getByLabel('Email').fill(EMAIL)
    await laptop.page.getByLabel('Password').fill(PASSWORD)
    await land(laptop.page, laptop.page.getByRole('button', { name: 'Create account' }))
    assert.equal(await heading(laptop.page), 'Dashboard')

    await phone.page.goto(`${app.url}/login`)
    await signIn(phone.page, EMAIL, PASSWORD)
    await nav(phone.page, 'Your devices')
    assert.equal(await heading(phone.page), 'Your devices')
    const [mine, other, ...rest] = await devices(phone.page)
    assert.deepEqual(rest, [])
    assert.match(mine!, /^Safari on iOS\s+This device/)
    assert.match(mine!, /IP 127\.0\.0\.1 · last seen just now/)
    assert.match(other!, /^Chrome on Linux/)
    assert.doesNotMatch(other!, /This device/)
    assert.equal(await phone.page.locator('ul.devices > li').first().getByRole('button').count(), 0)
    await shoot(phone.page, 'devices')
  })

  it('signs the first device out from the second: "Device signed out"', async () => {
    const entry = phone.page.locator('ul.devices > li', { hasText: 'Chrome on Linux' })
    const landed = await land(phone.page, entry.getByRole('button', { name: 'Sign out Chrome on Linux' }))
    assert.equal(new URL(landed.url()).pathname, '/devices')
    assert.equal(await flash(phone.page), 'Device signed out')
    assert.equal((await devices(phone.page)).length, 1)
    assert.equal(await phone.page.getByRole('button', { name: 'Sign out everywhere else' }).count(), 0)
  })

  it("lands the first device's next click on the sign-in page, which brings it back after signing in", async () => {
    const landed = await nav(laptop.page, 'Your devices')
    assert.equal(new URL(landed.url()).pathname, '/login')
    assert.equal(await heading(laptop.page), 'Sign in')
    assert.equal(await laptop.page.locator('header').getByRole('button', { name: 'Sign out' }).count(), 0)
    const back = await signIn(laptop.page, EMAIL, PASSWORD)
    assert.equal(new URL(back.url()).pathname, '/devices')
    assert.equal((await devices(laptop.page)).length, 2)
  })

  it('changes the password on a fresh session, which signs every other device out', async () => {
    const form = await nav(phone.page, 'Change password')
    assert.equal(new URL(form.url()).pathname, '/password', 'a fresh sign-in is not asked for its password again')
    await phone.page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD)
    await phone.page.getByLabel('Repeat new password').fill(`${NEW_PASSWORD}!`)
    const refused = await land(phone.page, phone.page.locator('main').getByRole('button', { name: 'Change password' }))
    assert.equal(refused.status(), 422)
    assert.equal(await phone.page.getByRole('alert').innerText(), 'Please correct the fields marked below.')
    assert.equal(await phone.page.locator('#field-repeat-error').innerText(), 'The two passwords differ.')
    await shoot(phone.page, 'password-error')

    await phone.page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD)
    await phone.page.getByLabel('Repeat new password').fill(NEW_PASSWORD)
    await land(phone.page, phone.page.locator('main').getByRole('button', { name: 'Change password' }))
    assert.equal(await heading(phone.page), 'Dashboard')
    assert.match((await flash(phone.page)) ?? '', /^Password changed/)

    await nav(laptop.page, 'Dashboard')
    assert.equal(await heading(laptop.page), 'Sign in')
    await signIn(laptop.page, EMAIL, PASSWORD)
    assert.equal(await laptop.page.getByRole('alert').innerText(), 'Wrong email or password.')
    await signIn(laptop.page, EMAIL, NEW_PASSWORD)
    assert.equal(await heading(laptop.page), 'Dashboard')
    await nav(phone.page, 'Change password')
    await shoot(phone.page, 'password')
  })
})
