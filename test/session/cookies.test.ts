import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { cookieValues } from '../../src/core/cookie.ts'
import { hashedKey, sign, unsign, VerifiedCookies } from '../../src/core/token.ts'
import { send } from '../support/http.ts'
import { type Harness, SECRET, startApp, tokenOf } from './harness.ts'

describe('cookie verification', () => {
  let app: Harness
  let valid: string
  let token: string
  before(async () => {
    app = await startApp()
    const browser = app.browser()
    await browser.post('/session', { a: 1 })
    valid = browser.cookieHeader()
    token = tokenOf(browser)
  })
  after(() => app.close())

  async function anonymousWithoutStoreCall(cookie: string) {
    app.spy.reset()
    const reply = await send(`${app.url}/session`, { cookie })
    assert.equal(reply.status, 200, `cookie ${JSON.stringify(cookie.slice(0, 80))}`)
    assert.deepEqual(JSON.parse(reply.body).data, {})
    assert.equal(app.spy.total(), 0, 'no store call')
    assert.deepEqual(reply.setCookies, [])
  }

  it('accepts the valid cookie (control)', async () => {
    const reply = await send(`${app.url}/session`, { cookie: valid })
    assert.deepEqual(JSON.parse(reply.body).data, { a: 1 })
  })

  it('a tampered or unsigned cookie never reaches the store', async () => {
    const signed = sign(token, SECRET)
    const flipped = `${signed.slice(0, -1)}${signed.endsWith('A') ? 'B' : 'A'}`
    const otherToken = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`
    for (const value of [
      token, // unsigned
      `s:${token}`, // prefix but no signature
      flipped, // signature changed
      `s:${otherToken}.${signed.slice(signed.lastIndexOf('.') + 1)}`, // token changed
      sign(token, 'another-secret-that-is-at-least-32-chars'), // foreign secret
      `s:${token}.${createHmac('sha256', SECRET).update(token).digest('base64')}`, // padding kept: not the signed form
    ]) {
      await anonymousWithoutStoreCall(`sid=${encodeURIComponent(value)}`)
    }
  })

  it('malformed Cookie headers give no session and never a 500', async () => {
    for (const header of [
      'sid=%',
      'sid=%E0%A4%A',
      'sid=',
      'sid',
      '=',
      ';;;',
      'sid="',
      `sid=${'a'.repeat(8000)}`,
      `sid=s%3A${'x'.repeat(2000)}.abc`,
      'sid=s%3A.; sid=s%3Aa.b',
      'sid=garbage; sid=%zz',
    ]) {
      await anonymousWithoutStoreCall(header)
    }
  })

  it('with a duplicated name, the first value that verifies wins', async () => {
    const reply = await send(`${app.url}/session`, { cookie: `sid=bogus; other=1; ${valid}; sid=%` })
    assert.deepEqual(JSON.parse(reply.body).data, { a: 1 })
  })

  it('an oversized Cookie header is refused by the server, not answered with a 500', async () => {
    const reply = await send(`${app.url}/session`, { cookie: `sid=${'a'.repeat(20_000)}` })
    assert.equal(reply.status, 431)
  })
})

describe('cookie parsing and signing units', () => {
  it('parses every value of one name, decoding and skipping what cannot be decoded', () => {
    assert.deepEqual(cookieValues('a=1; sid=x%20y; b=2; sid="q"; sid=%', 'sid'), ['x y', 'q'])
    assert.deepEqual(cookieValues(undefined, 'sid'), [])
    assert.deepEqual(cookieValues('sidx=1; xsid=2', 'sid'), [])
  })

  it('signs like express-session (cookie-signature) and verifies against every secret', () => {
    const expected = createHmac('sha256', SECRET).update('abc').digest('base64').replace(/=+$/, '')
    assert.equal(sign('abc', SECRET), `s:abc.${expected}`)
    const old = 'old-secret-that-is-at-least-32-characters'
    assert.equal(unsign(sign('abc', old), [SECRET, old]), 'abc')
    assert.equal(unsign(sign('abc', old), [SECRET]), undefined)
    assert.equal(unsign('s:a.b.c', [SECRET]), undefined)
  })

  it('remembers only values that verified, within a bound, and derives the same key', () => {
    const cookies = new VerifiedCookies([SECRET], 2)
    const good = (t: string) => encodeURIComponent(sign(t, SECRET))
    assert.deepEqual(cookies.verify(good('t1')), { token: 't1', key: hashedKey('t1') })
    assert.equal(cookies.verify(good('t1')), cookies.verify(good('t1')), 'the second check is the remembered one')
    assert.equal(cookies.verify(`${good('t1')}x`), undefined)
    assert.equal(cookies.verify(encodeURIComponent(sign('t1', 'other-secret-that-is-at-least-32-chars!!'))), undefined)
    assert.equal(cookies.verify('%E0%A4%A'), undefined)
    const first = cookies.verify(good('t1'))
    cookies.verify(good('t2'))
    cookies.verify(good('t3'))
    assert.notEqual(cookies.verify(good('t1')), first, 'the oldest entry was evicted and verified afresh')
    assert.deepEqual(cookies.verify(good('t1')), first)
  })
})
