import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { request } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { type CsrfApp, formPost, postWith, SAME_ORIGIN, startModern, tokenIn } from './support.ts'

/** One raw request through node:http, for what fetch refuses to send (TRACE). */
function raw(url: string, method: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { 'sec-fetch-site': 'cross-site' } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode!))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('csrf() decides by Sec-Fetch-Site, then Origin', () => {
  let app: CsrfApp
  before(async () => {
    app = await startModern()
  })
  after(() => app.close())

  it('safe methods always pass, even cross-site, and get no Vary from csrf()', async () => {
    const browser = app.browser()
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      const reply = await browser.request('/any', { method, headers: { 'sec-fetch-site': 'cross-site' } })
      assert.equal(reply.status, 200, method)
      assert.doesNotMatch(reply.headers.get('vary') ?? '', /sec-fetch-site/i)
    }
    assert.equal(await raw(`${app.url}/any`, 'TRACE'), 200)
  })

  it('same-origin and none pass; the response varies on Sec-Fetch-Site', async () => {
    for (const site of ['same-origin', 'none', 'Same-Origin']) {
      const reply = await postWith(app.browser(), '/transfer', { 'sec-fetch-site': site })
      assert.equal(reply.status, 200, site)
      assert.equal(reply.headers.get('vary'), 'Sec-Fetch-Site')
    }
  })

  it('cross-site gets a generic 403: HTML for a browser form, JSON for a fetch that asks for it, never cached', async () => {
    const form = await postWith(app.browser(), '/transfer', {
      'sec-fetch-site': 'cross-site',
      accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
    })
    assert.equal(form.status, 403)
    assert.match(form.headers.get('content-type')!, /^text\/html/)
    assert.match(form.body, /<h1>Forbidden<\/h1>/)
    assert.doesNotMatch(form.body, /cross-site|token|csrf/i, 'the body does not say why')
    assert.equal(form.headers.get('cache-control'), 'no-store')
    assert.equal(form.headers.get('vary'), 'Sec-Fetch-Site, Accept')
    assert.equal(app.events.at(-1)?.type, 'csrf-rejected')
    assert.equal(app.events.at(-1)?.reason, 'cross-site')

    for (const accept of ['application/json', 'text/html;q=0.5, application/json', 'application/problem+json']) {
      const fetched = await postWith(app.browser(), '/transfer', { 'sec-fetch-site': 'cross-site', accept })
      assert.equal(fetched.status, 403)
      assert.match(fetched.headers.get('content-type')!, /^application\/json/, accept)
      assert.deepEqual(Object.keys(JSON.parse(fetched.body)), ['error', 'message'])
      assert.equal(fetched.headers.get('cache-control'), 'no-store')
    }
    const star = await postWith(app.browser(), '/transfer', { 'sec-fetch-site': 'cross-site', accept: '*/*' })
    assert.match(star.headers.get('content-type')!, /^text\/html/)
  })

  it('same-site fails unless allowSameSite; an unknown value fails', async () => {
    const reply = await postWith(app.browser(), '/transfer', { 'sec-fetch-site': 'same-site' })
    assert.equal(reply.status, 403)
    assert.equal(app.events.at(-1)?.reason, 'cross-site')
    assert.equal((await postWith(app.browser(), '/transfer', { 'sec-fetch-site': 'bogus' })).status, 403)
    const lenient = await startModern(undefined, { csrf: { allowSameSite: true } })
    try {
      assert.equal((await postWith(lenient.browser(), '/transfer', { 'sec-fetch-site': 'same-site' })).status, 200)
      assert.equal((await postWith(lenient.browser(), '/transfer', { 'sec-fetch-site': 'cross-site' })).status, 403)
    } finally {
      await lenient.close()
    }
  })

  it("without Sec-Fetch-Site, Origin must be the app's own; null and foreign origins fail", async () => {
    const own = await postWith(app.browser(), '/transfer', { origin: app.url })
    assert.equal(own.status, 200)
    assert.equal(own.headers.get('vary'), 'Sec-Fetch-Site, Origin')
    assert.equal((await postWith(app.browser(), '/transfer', { origin: app.url.toUpperCase() })).status, 200)
    const port = Number(new URL(app.url).port)
    const cases: Array<[string, string]> = [
      ['https://evil.example', 'origin-mismatch'],
      [`http://127.0.0.1:${port + 1}`, 'origin-mismatch'],
      [app.url.replace('http:', 'https:'), 'origin-mismatch'],
      [`${app.url}/path`, 'origin-mismatch'],
      ['not a url', 'origin-mismatch'],
      ['null', 'null-origin'],
    ]
    for (const [origin, reason] of cases) {
      const reply = await postWith(app.browser(), '/transfer', { origin })
      assert.equal(reply.status, 403, origin)
      assert.equal(reply.headers.get('vary'), 'Sec-Fetch-Site, Origin, Accept')
      assert.equal(app.events.at(-1)?.reason, reason, origin)
    }
  })

  it('Sec-Fetch-Site wins over Origin', async () => {
    const site = await postWith(app.browser(), '/transfer', { 'sec-fetch-site': 'same-origin', origin: 'null' })
    assert.equal(site.status, 200)
    const cross = await postWith(app.browser(), '/transfer', { 'sec-fetch-site': 'cross-site', origin: app.url })
    assert.equal(cross.status, 403)
  })

  it('appends to an existing Vary without duplicates', async () => {
    const varied = await startModern(undefined, {
      before: (a) =>
        a.use((_req, res, next) => {
          res.setHeader('Vary', 'Accept-Encoding, sec-fetch-site')
          next()
        }),
    })
    try {
      const one = await postWith(varied.browser(), '/transfer', SAME_ORIGIN)
      assert.equal(one.headers.get('vary'), 'Accept-Encoding, sec-fetch-site')
      const two = await postWith(varied.browser(), '/transfer', { origin: varied.url })
      assert.equal(two.headers.get('vary'), 'Accept-Encoding, sec-fetch-site, Origin')
    } finally {
      await varied.close()
    }
  })

  it('believes X-Forwarded-Host and -Proto only from a trusted proxy, the session trust by default', async () => {
    const proxied = { origin: 'https://app.example', 'x-forwarded-host': 'app.example', 'x-forwarded-proto': 'https' }
    assert.equal((await postWith(app.browser(), '/transfer', proxied)).status, 403, 'not trusted')
    const own = await startModern(undefined, { csrf: { trustProxy: true } })
    const inherited = await startModern(undefined, { session: { trustProxy: true } })
    const overridden = await startModern(undefined, { session: { trustProxy: true }, csrf: { trustProxy: false } })
    try {
      assert.equal((await postWith(own.browser(), '/transfer', proxied)).status, 200)
      assert.equal((await postWith(inherited.browser(), '/transfer', proxied)).status, 200)
      assert.equal((await postWith(overridden.browser(), '/transfer', proxied)).status, 403)
      const normalized = { ...proxied, 'x-forwarded-host': 'App.Example:443, proxy.internal' }
      assert.equal(
        (await postWith(inherited.browser(), '/transfer', normalized)).status,
        200,
        'first hop, default port',
      )
      const http = { ...proxied, 'x-forwarded-proto': 'http' }
      assert.equal((await postWith(inherited.browser(), '/transfer', http)).status, 403, 'scheme must match too')
    } finally {
      await Promise.all([own.close(), inherited.close(), overridden.close()])
    }
  })

  it('origins (a list) lets an SPA on another origin through, and nothing else', async () => {
    const api = await startModern(undefined, { csrf: { origins: ['https://SPA.example:443/'] } })
    try {
      const spa = { origin: 'https://spa.example' }
      const fromSpa = await postWith(api.browser(), '/transfer', { ...spa, 'sec-fetch-site': 'cross-site' })
      assert.equal(fromSpa.status, 200)
      assert.equal(fromSpa.headers.get('vary'), 'Sec-Fetch-Site, Origin')
      assert.equal((await postWith(api.browser(), '/transfer', { ...spa, 'sec-fetch-site': 'same-site' })).status, 200)
      assert.equal((await postWith(api.browser(), '/transfer', spa)).status, 200, 'old browser: Origin only')
      assert.equal((await postWith(api.browser(), '/transfer', { origin: api.url })).status, 200, 'own origin')
      const refused: Array<Record<string, string>> = [
        { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
        { origin: 'http://spa.example', 'sec-fetch-site': 'cross-site' },
        { origin: 'null', 'sec-fetch-site': 'cross-site' },
        { 'sec-fetch-site': 'cross-site' },
        { origin: 'https://evil.example' },
      ]
      for (const headers of refused) {
        assert.equal((await postWith(api.browser(), '/transfer', headers)).status, 403, JSON.stringify(headers))
      }
    } finally {
      await api.close()
    }
  })

  it('origins (a function) decides on the Origin header and the request', async () => {
    const calls: Array<[string, string | undefined]> = []
    const origins = (origin: string, req: IncomingMessage) => {
      calls.push([origin, req.url])
      return origin.endsWith('.spa.example') && req.url === '/transfer'
    }
    const api = await startModern(undefined, { csrf: { origins } })
    try {
      const spa = { origin: 'https://eu.spa.example', 'sec-fetch-site': 'cross-site' }
      assert.equal((await postWith(api.browser(), '/transfer', spa)).status, 200)
      assert.equal((await postWith(api.browser(), '/session', spa)).status, 403)
      assert.equal((await postWith(api.browser(), '/transfer', { origin: 'null' })).status, 403)
      assert.deepEqual(calls, [
        ['https://eu.spa.example', '/transfer'],
        ['https://eu.spa.example', '/session'],
      ])
    } finally {
      await api.close()
    }
  })

  it('a Secure response gets the __Host-csrf pre-session cookie', async () => {
    const secure = await startModern(undefined, { session: { trustProxy: true } })
    try {
      const browser = secure.browser()
      browser.headers['x-forwarded-proto'] = 'https'
      const page = await browser.get('/form')
      assert.match(page.setCookies[0]!, /^__Host-csrf=s%3Acsrf%3A[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/)
      assert.equal((await formPost(browser, '/transfer', { _csrf: tokenIn(page) })).status, 200)
      delete browser.headers['x-forwarded-proto']
      assert.equal((await formPost(browser, '/transfer', { _csrf: tokenIn(page) })).status, 403, 'plain HTTP: csrf')
    } finally {
      await secure.close()
    }
  })
})
