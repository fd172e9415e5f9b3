import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { type RedisServer, startRedis } from '../support/redis.ts'
import { type RunningApp, startApp } from './support/app.ts'
import { type Device, flash, heading, land, launchChromium, newDevice, SAFARI_ON_IOS } from './support/browser.ts'
import { type Balancer, startProxy } from './support/proxy.ts'

const EMAIL = 'barbara@example.com'
const PASSWORD = 'abstraction and data types'

describe('in Chromium: three app instances behind a round-robin proxy, sharing Redis', () => {
  let redis: RedisServer
  let apps: RunningApp[] = []
  let proxy: Balancer
  let browser: Browser
  let laptop: Device
  let phone: Device

  /** Which backends served `path` with `status` from entry `since` on. */
  const servedBy = (since: number, path: string, status: number) =>
    new Set(
      proxy.log
        .slice(since)
        .filter((s) => s.path === path && s.status === status)
        .map((s) => s.backend),
    )
  const me = (page: Page) => page.evaluate(async () => (await fetch('/api/me')).status)

  before(async () => {
    redis = await startRedis()
    // Production mode: a SESSION_SECRET shared by all three (startApp sets it), and the proxy trusted for the client IP.
    const env = { STORE_URL: redis.url, NODE_ENV: 'production', TRUST_PROXY: '1' }
    apps = await Promise.all([startApp(env), startApp(env), startApp(env)])
    proxy = await startProxy(apps.map((a) => a.url))
    browser = await launchChromium()
    laptop = await newDevice(browser)
    phone = await newDevice(browser, { userAgent: SAFARI_ON_IOS })
  })

  after(async () => {
    await browser?.close()
    await proxy?.close()
    await Promise.all(apps.map((a) => a.stop()))
    await redis?.stop()
  })

  it('signs in through one instance and uses the session through the others', async () => {
    await laptop.page.goto(`${proxy.url}/register`)
    await laptop.page.getByLabel('Email').fill(EMAIL)
    await laptop.page.getByLabel('Password').fill(PASSWORD)
    const since = proxy.log.length
    await land(laptop.page, laptop.page.getByRole('button', { name: 'Create account' }))
    const signUp = proxy.log.slice(since).find((s) => s.method === 'POST' && s.path === '/register')
    assert.equal(signUp?.status, 303)
    for (let i = 0; servedBy(since, '/dashboard', 200).size < 3 && i < 9; i++) await laptop.page.reload()
    assert.equal(servedBy(since, '/dashboard', 200).size, 3, 'every instance served the signed-in dashboard')
    assert.equal(await laptop.page.locator('#who').innerText(), EMAIL)
  })

  it('signs a device out through another instance: anonymous on its next request, everywhere', async () => {
    await phone.page.goto(`${proxy.url}/login`)
    await phone.page.getByLabel('Email').fill(EMAIL)
    await phone.page.getByLabel('Password').fill(PASSWORD)
    await land(phone.page, phone.page.locator('main').getByRole('button', { name: 'Sign in' }))
    await phone.page.goto(`${proxy.url}/devices`)
    const entry = phone.page.locator('ul.devices > li', { hasText: 'Chrome on Linux' })
    assert.match(await entry.innerText(), /IP 127\.0\.0\.1/)
    const since = proxy.log.length
    await land(phone.page, entry.getByRole('button', { name: 'Sign out Chrome on Linux' }))
    assert.equal(await flash(phone.page), 'Device signed out')
    const revokedBy = proxy.log.slice(since).find((s) => s.method === 'POST')?.backend
    assert.notEqual(revokedBy, undefined)

    // From now on every request of the laptop is anonymous, whichever instance answers it.
    const after = proxy.log.length
    const statuses = []
    for (let i = 0; servedBy(after, '/api/me', 401).size < 3 && i < 9; i++) statuses.push(await me(laptop.page))
    assert.deepEqual(new Set(statuses), new Set([401]))
    assert.equal(servedBy(after, '/api/me', 401).size, 3, 'every instance says: nobody')
    await land(laptop.page, laptop.page.locator('header').getByRole('link', { name: 'Your devices' }))
    assert.equal(await heading(laptop.page), 'Sign in')
    // The phone is still signed in, on every instance.
    const phoneSince = proxy.log.length
    for (let i = 0; servedBy(phoneSince, '/api/me', 200).size < 3 && i < 9; i++) assert.equal(await me(phone.page), 200)
    assert.equal(servedBy(phoneSince, '/api/me', 200).size, 3)
  })
})
