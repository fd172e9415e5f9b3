import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { type CsrfApp, postWith, SAME_ORIGIN, startModern } from './support.ts'

/**
 * What `methodOverride('_method')` (the method-override package, with its default `methods: ['POST']`) does: it
 * records the method the browser sent in `req.originalMethod`, then rewrites `req.method` of a POST to the one named
 * in the query string.
 */
function methodOverride(incoming: IncomingMessage, _res: unknown, next: () => void): void {
  const req = incoming as IncomingMessage & { originalMethod?: string }
  req.originalMethod = req.originalMethod || req.method
  const wanted = new URL(req.url!, 'http://localhost').searchParams.get('_method')
  if (req.method === 'POST' && wanted) req.method = wanted.toUpperCase()
  next()
}

describe('csrf() behind method-override decides on the method the browser sent', () => {
  let app: CsrfApp
  before(async () => {
    app = await startModern(undefined, { before: (express) => express.use(methodOverride) })
  })
  after(() => app.close())

  for (const method of ['GET', 'OPTIONS']) {
    it(`a cross-site POST rewritten to ${method} is refused`, async () => {
      app.events.length = 0
      const reply = await postWith(app.browser(), `/any?_method=${method}`, { 'sec-fetch-site': 'cross-site' })
      assert.equal(reply.status, 403)
      assert.deepEqual(
        app.events.filter((e) => e.type === 'csrf-rejected'),
        [{ type: 'csrf-rejected', reason: 'cross-site' }],
      )
    })
  }

  it('a POST rewritten to GET without Fetch Metadata, Origin or token is refused', async () => {
    const reply = await postWith(app.browser(), '/any?_method=GET', {})
    assert.equal(reply.status, 403)
  })

  it('a same-origin POST rewritten to DELETE passes and reaches the DELETE handler', async () => {
    const reply = await postWith(app.browser(), '/any?_method=DELETE', SAME_ORIGIN)
    assert.equal(reply.status, 200)
    assert.deepEqual(JSON.parse(reply.body), { method: 'DELETE' })
  })
})

describe('csrf() behind method-override that also rewrites GET (methods: null)', () => {
  let app: CsrfApp
  before(async () => {
    const anyMethod = (incoming: IncomingMessage, _res: unknown, next: () => void) => {
      const req = incoming as IncomingMessage & { originalMethod?: string }
      req.originalMethod = req.originalMethod || req.method
      const wanted = new URL(req.url!, 'http://localhost').searchParams.get('_method')
      if (wanted) req.method = wanted.toUpperCase()
      next()
    }
    app = await startModern(undefined, { before: (express) => express.use(anyMethod) })
  })
  after(() => app.close())

  it('a cross-site GET rewritten to POST is decided like a POST, and refused', async () => {
    const reply = await app.browser().request('/any?_method=POST', { headers: { 'sec-fetch-site': 'cross-site' } })
    assert.equal(reply.status, 403)
  })
})
