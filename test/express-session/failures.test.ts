import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import session, { MemoryStore } from '../../src/express-session/index.ts'
import type { StoreCallback } from '../../src/stores/legacy/adapter.ts'
import type { Running } from '../support/http.ts'
import { Client, SECRET, serve } from './support.ts'

type Method = 'get' | 'set' | 'touch' | 'destroy'

/** express-session's MemoryStore with injectable faults: a failing or a slow method. */
class FaultyStore extends MemoryStore {
  failing = new Set<Method>()
  delayMs = 0
  writes: number[] = []

  constructor() {
    super()
    for (const method of ['get', 'set', 'touch', 'destroy'] as const) {
      const original = MemoryStore.prototype[method] as (...args: unknown[]) => void
      this[method] = ((...args: unknown[]) => {
        const cb = args.at(-1) as StoreCallback
        if (this.failing.has(method)) return setImmediate(cb, new Error(`injected ${method} failure`))
        setTimeout(() => {
          if (method === 'set') this.writes.push(Date.now())
          original.apply(this, args)
        }, this.delayMs)
      }) as never
    }
  }
}

describe('drop-in face keeps coatcheck’s guarantees', () => {
  const store = new FaultyStore()
  let running: Running
  let arrivals: number[]
  before(async () => {
    const app = express()
    app.set('env', 'test')
    app.use(session({ secret: SECRET, store, resave: false, saveUninitialized: false, storeTimeout: 1000 }))
    app.get('/read', (req, res) => {
      res.json({ userId: (req.session as unknown as { userId?: string } | undefined)?.userId ?? null })
    })
    app.post('/set/:key', async (req, res) => {
      ;(req.session as unknown as Record<string, number>)[req.params.key] = 1
      await new Promise((resolve) => setTimeout(resolve, Number(req.query.wait ?? 0)))
      res.json({ ok: true })
    })
    app.get('/keys', (req, res) => {
      res.json(Object.keys(req.session ?? {}).filter((key) => key !== 'cookie'))
    })
    app.post('/login', (req, res) => {
      ;(req.session as unknown as { userId: string }).userId = 'u1'
      res.redirect('/read')
    })
    running = await serve(app)
  })
  after(() => running.close())

  it('concurrent requests that change different keys both keep their change (per-key patches)', async () => {
    const client = new Client(running.url)
    await client.post('/login')
    // Both requests load the session before either saves; express-session would write back two whole objects.
    await Promise.all([client.post('/set/a?wait=150'), client.post('/set/b?wait=0')])
    assert.deepEqual(JSON.parse((await client.get('/keys')).body).sort(), ['a', 'b', 'userId'])
  })

  it('a failing store.get answers 503 instead of running the handler with req.session undefined', async () => {
    const client = new Client(running.url)
    await client.post('/login')
    store.failing.add('get')
    const reply = await client.get('/read')
    store.failing.clear()
    assert.equal(reply.status, 503)
    assert.deepEqual(JSON.parse((await client.get('/read')).body), { userId: 'u1' }, 'recovers by itself')
  })

  it('a failing save turns the response into a 503 without Set-Cookie (the redirect never leaves)', async () => {
    store.failing.add('set')
    const reply = await new Client(running.url).post('/login')
    store.failing.clear()
    assert.equal(reply.status, 503)
    assert.equal(reply.body, 'Service Unavailable')
    assert.deepEqual(reply.setCookies, [])
    assert.equal(reply.headers.get('location'), null)
  })

  it('a store slower than storeTimeout answers 503', async () => {
    store.delayMs = 1500
    const reply = await new Client(running.url).post('/login')
    store.delayMs = 0
    assert.equal(reply.status, 503)
  })

  it('the redirect after login arrives only after the save finished, and the next request sees the user', async () => {
    store.delayMs = 200
    store.writes = []
    arrivals = []
    const client = new Client(running.url)
    const reply = await client.post('/login')
    arrivals.push(Date.now())
    store.delayMs = 0
    assert.equal(reply.status, 302)
    assert.equal(store.writes.length, 1)
    assert.ok(store.writes[0]! <= arrivals[0]!, 'the store write completed before the response arrived')
    assert.deepEqual(JSON.parse((await client.get('/read')).body), { userId: 'u1' })
  })
})
