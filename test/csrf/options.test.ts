import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, it } from 'node:test'
import express from 'express'
import { CoatcheckError, type CsrfOptions, csrf, memoryStore, session } from '../../src/index.ts'
import { Browser, listen } from '../support/http.ts'
import { formPost, SECRET } from './support.ts'

function rejects(options: unknown, pattern: RegExp): void {
  assert.throws(
    () => csrf(options as CsrfOptions),
    (error: unknown) => {
      assert.ok(error instanceof CoatcheckError)
      assert.equal(error.code, 'INVALID_OPTION')
      assert.match(error.message, pattern)
      return true
    },
  )
}

describe('csrf() options', () => {
  it('takes no options, or valid ones', () => {
    assert.equal(typeof csrf(), 'function')
    const all: CsrfOptions = {
      allowSameSite: true,
      origins: ['https://app.example.com', 'http://localhost:5173'],
      trustProxy: 1,
      value: (req) => req.headers['x-my-token'],
      reportOnly: true,
      onRejected: (_req, res) => res.end('no'),
      onEvent: () => {},
    }
    assert.equal(typeof csrf(all), 'function')
    assert.equal(typeof csrf({ origins: () => false, trustProxy: (address) => address === '10.0.0.1' }), 'function')
  })

  it('refuses unknown options at start-up, with the nearest name or what to do instead', () => {
    rejects({ origin: ['https://a.example'] }, /`origin` is not a known option of csrf\(\); did you mean `origins`\?/)
    rejects({ reportonly: true }, /did you mean `reportOnly`/)
    rejects({ cookie: true }, /`cookie` is not a known option of csrf\(\); the secret lives in the session/)
    rejects({ ignoreMethods: ['GET'] }, /GET, HEAD, OPTIONS and TRACE always pass/)
    rejects('strict', /`options` of csrf\(\) must be an object/)
  })

  it('refuses bad values, naming the option', () => {
    rejects({ allowSameSite: 'yes' }, /`allowSameSite` must be one of true, false/)
    rejects({ reportOnly: 1 }, /`reportOnly` must be one of true, false/)
    rejects({ origins: 'https://a.example' }, /`origins` must be a list of origins or a function/)
    rejects({ origins: ['https://a.example/app'] }, /`origins` must hold origins like .*got 'https:\/\/a.example\/app'/)
    rejects({ origins: ['a.example'] }, /`origins` must hold origins/)
    rejects({ origins: ['ftp://a.example'] }, /`origins` must hold origins/)
    rejects({ origins: [42] }, /`origins` must hold origins.*got 42/)
    rejects({ trustProxy: 'loopback' }, /`trustProxy` must be a boolean, a hop count or a function/)
    rejects({ trustProxy: -1 }, /`trustProxy` must be an integer ≥ 0/)
    rejects({ value: '_token' }, /`value` must be a function/)
    rejects({ onEvent: 'log' }, /`onEvent` must be a function/)
    rejects({ onRejected: '/403.html' }, /`onRejected` must be a function/)
  })

  it('without a session middleware before it, requests fail with NO_SESSION_MIDDLEWARE through next(err)', async () => {
    const app = express()
    app.set('env', 'test')
    app.use(csrf())
    app.get('/', (_req, res) => res.send('unreachable'))
    const seen: unknown[] = []
    app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      seen.push(error)
      res.status(500).send('misconfigured')
    })
    const running = await listen(app)
    try {
      const reply = await new Browser(running.url).get('/')
      assert.equal(reply.status, 500)
      assert.ok(seen[0] instanceof CoatcheckError)
      assert.equal((seen[0] as CoatcheckError).code, 'NO_SESSION_MIDDLEWARE')
    } finally {
      await running.close()
    }
  })

  it('a custom value lookup replaces the default one', async () => {
    const app = express()
    app.use(session({ secret: SECRET, store: memoryStore() }))
    app.use(csrf({ value: (req) => req.headers['x-my-token'] }))
    app.get('/token', (req, res) => res.send(req.csrfToken()))
    app.post('/', (_req, res) => res.send('ok'))
    const running = await listen(app)
    try {
      const browser = new Browser(running.url)
      const token = (await browser.get('/token')).body
      assert.equal((await browser.request('/', { method: 'POST', headers: { 'x-my-token': token } })).status, 200)
      assert.equal((await browser.request('/', { method: 'POST', headers: { 'x-csrf-token': token } })).status, 403)
    } finally {
      await running.close()
    }
  })

  it('onRejected answers a refused request instead of the default page; throws and rejections go to next', async () => {
    const events: string[] = []
    const app = express()
    app.set('env', 'test')
    app.use(session({ secret: SECRET, store: memoryStore(), onEvent: (e) => events.push(e.type) }))
    const changed: string[] = []
    const hook = (mode: string) =>
      csrf({
        onRejected(req: express.Request, res: express.Response, next: express.NextFunction) {
          if (mode === 'throw') throw new Error('hook threw')
          if (mode === 'reject') return Promise.reject(new Error('hook rejected'))
          if (mode === 'next') return next(Object.assign(new Error('forbidden'), { status: 418 }))
          if (mode === 'bare-next') return next() // a mistake: it must not let the request through
          if (mode === 'route') return next('route') // Express's "skip to the next route": no error either
          // Status and Cache-Control are set already; the reason is not passed (it is in the event).
          res.type('html').send(`<h1>Custom ${res.statusCode} ${res.getHeader('cache-control')} ${req.method}</h1>`)
        },
      })
    for (const mode of ['page', 'throw', 'reject', 'next', 'bare-next', 'route']) {
      app.post(`/${mode}`, hook(mode), (req, res) => {
        changed.push(req.path)
        res.send('changed')
      })
    }
    app.use((error: Error & { status?: number }, _req: unknown, res: express.Response, _next: unknown) => {
      res.status(error.status ?? 500).send(`handler: ${error.message}`)
    })
    const running = await listen(app)
    try {
      const browser = new Browser(running.url)
      const crossSite = (path: string) =>
        browser.request(path, { method: 'POST', headers: { 'sec-fetch-site': 'cross-site' } })
      const page = await crossSite('/page')
      assert.equal(page.status, 403)
      assert.equal(page.body, '<h1>Custom 403 no-store POST</h1>')
      assert.doesNotMatch(page.headers.get('vary') ?? '', /accept/i, 'the default body varies on Accept; this one not')
      assert.deepEqual(
        [
          await crossSite('/throw'),
          await crossSite('/reject'),
          await crossSite('/next'),
          await crossSite('/bare-next'),
          await crossSite('/route'),
        ].map((r) => [r.status, r.body]),
        [
          [500, 'handler: hook threw'],
          [500, 'handler: hook rejected'],
          [418, 'handler: forbidden'],
          [403, 'handler: coatcheck: csrf() refused this request (the csrf-rejected event says why)'],
          [403, 'handler: coatcheck: csrf() refused this request (the csrf-rejected event says why)'],
        ],
      )
      assert.deepEqual(changed, [], 'a refused request never reaches the route')
      assert.deepEqual(events, Array(6).fill('csrf-rejected'))
      const passed = await browser.request('/page', { method: 'POST', headers: { 'sec-fetch-site': 'same-origin' } })
      assert.equal(passed.body, 'changed', 'onRejected is not called for a request that passes')
    } finally {
      await running.close()
    }
  })

  it('warns once when a form post reaches csrf() before any body parser', async () => {
    const app = express()
    app.use(session({ secret: SECRET, store: memoryStore() }))
    app.use(csrf())
    app.get('/token', (req, res) => res.send(req.csrfToken()))
    app.post('/', (_req, res) => res.send('ok'))
    const running = await listen(app)
    try {
      const browser = new Browser(running.url)
      const token = (await browser.get('/token')).body
      const warned = once(process, 'warning')
      assert.equal((await formPost(browser, '/', { _csrf: token })).status, 403)
      const [warning] = (await warned) as [Error & { code?: string }]
      assert.equal(warning.code, 'COATCHECK_CSRF_NO_BODY')
      assert.match(warning.message, /mount a body parser \(express\.urlencoded\(\)\) before csrf\(\)/)
    } finally {
      await running.close()
    }
  })
})
