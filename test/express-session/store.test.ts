import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { createRequire } from 'node:module'
import { describe, it } from 'node:test'
import { inherits } from 'node:util'
import express from 'express'
import session, { Cookie, MemoryStore, Session, Store } from '../../src/express-session/index.ts'
import type { LegacySession, StoreCallback } from '../../src/stores/legacy/adapter.ts'
import { Client, SECRET, serve } from './support.ts'

interface FileLikeStore extends Store {
  data: Map<string, string>
}

/** A store written the ES5 way, as connect-pg-simple's ancestors and many others are. */
function Es5Store(this: FileLikeStore) {
  Store.call(this)
  this.data = new Map()
}
inherits(Es5Store, Store)
Es5Store.prototype.get = function (this: FileLikeStore, sid: string, cb: StoreCallback) {
  const json = this.data.get(sid)
  process.nextTick(cb, null, json ? JSON.parse(json) : null)
}
Es5Store.prototype.set = function (this: FileLikeStore, sid: string, sess: LegacySession, cb: StoreCallback) {
  this.data.set(sid, JSON.stringify(sess))
  process.nextTick(cb)
}
Es5Store.prototype.destroy = function (this: FileLikeStore, sid: string, cb: StoreCallback) {
  this.data.delete(sid)
  process.nextTick(cb)
}

describe('Store, MemoryStore, Cookie, Session exports', () => {
  it('Store is an ES5 base: Store.call(this) + util.inherits, an EventEmitter', () => {
    const store = new (Es5Store as unknown as new () => FileLikeStore)()
    assert.ok(store instanceof Store)
    assert.ok(store instanceof EventEmitter)
    assert.equal(typeof store.on, 'function')
    assert.equal(typeof store.createSession, 'function')
    class Modern extends Store {}
    assert.ok(new Modern() instanceof Store)
  })

  it('the default export carries Store, MemoryStore, Cookie and Session, like express-session', () => {
    assert.equal(session.Store, Store)
    assert.equal(session.MemoryStore, MemoryStore)
    assert.equal(session.Cookie, Cookie)
    assert.equal(session.Session, Session)
  })

  it('require() of the module returns the middleware with its properties (Node 24 require(esm))', () => {
    const required = createRequire(import.meta.url)('../../src/express-session/index.ts')
    assert.equal(required, session)
    assert.equal(required.Store, Store)
  })

  it('MemoryStore has the callback API: set, get, touch, all, length, destroy, clear', async () => {
    const store = new MemoryStore()
    const call = <T>(method: string, ...args: unknown[]) =>
      new Promise<T>((resolve, reject) => {
        const fn = (store as unknown as Record<string, (...a: unknown[]) => void>)[method]!
        fn.call(store, ...args, (error: unknown, value: T) => (error ? reject(error) : resolve(value)))
      })
    const future = new Date(Date.now() + 60_000).toISOString()
    await call('set', 'a', { cookie: { expires: future, originalMaxAge: 60_000 }, n: 1 })
    await call('set', 'b', { cookie: { expires: new Date(Date.now() - 1).toISOString() }, n: 2 })
    await call('set', 'c', { cookie: { expires: null }, n: 3 })
    assert.deepEqual(await call('get', 'a'), { cookie: { expires: future, originalMaxAge: 60_000 }, n: 1 })
    assert.equal(await call('get', 'b'), undefined, 'an expired session is gone')
    assert.deepEqual(Object.keys(await call<object>('all')).sort(), ['a', 'c'])
    assert.equal(await call('length'), 2)
    const later = new Date(Date.now() + 120_000).toISOString()
    await call('touch', 'a', { cookie: { expires: later, originalMaxAge: 120_000 } })
    assert.equal((await call<LegacySession>('get', 'a')).cookie?.expires, later)
    await call('destroy', 'a')
    assert.equal(await call('get', 'a'), undefined)
    await call('clear')
    assert.equal(await call('length'), 0)
  })

  it('Cookie has express-session semantics: maxAge counts down, originalMaxAge stays, JSON is its data', () => {
    const cookie = new Cookie({ maxAge: 60_000, sameSite: 'lax' })
    assert.equal(cookie.originalMaxAge, 60_000)
    assert.ok(cookie.maxAge! <= 60_000 && cookie.maxAge! > 59_000)
    assert.ok(cookie.expires instanceof Date)
    const json = JSON.parse(JSON.stringify(cookie))
    assert.deepEqual(Object.keys(json).sort(), ['expires', 'httpOnly', 'originalMaxAge', 'path', 'sameSite'])
    assert.match(cookie.serialize('n', 'v'), /^n=v; Path=\/; Expires=.+ GMT; HttpOnly; SameSite=Lax$/)
    assert.equal(new Cookie().maxAge, null)
    assert.throws(() => new Cookie({ maxAge: 'x' as never }), /maxAge must be a number or Date/)
  })

  it('Cookie: setting maxAge makes originalMaxAge exactly that, even when the clock ticks meanwhile', () => {
    const realNow = Date.now
    let now = 1_000_000
    Date.now = () => now++ // every reading of the clock is 1 ms later than the one before
    try {
      const cookie = new Cookie({ maxAge: 60_000 })
      assert.equal(cookie.originalMaxAge, 60_000)
      assert.equal(cookie.expires?.valueOf(), 1_000_000 + 60_000)
      cookie.maxAge = 5_000
      assert.equal(cookie.originalMaxAge, 5_000)
      cookie.expires = new Date(now + 10_000) // a date keeps express-session's rule: the time left, by the clock
      assert.equal(cookie.originalMaxAge, 10_000)
    } finally {
      Date.now = realNow
    }
  })

  it('an ES5 store plugs into the drop-in face; sessions round-trip with their cookie', async () => {
    const store = new (Es5Store as unknown as new () => FileLikeStore)()
    const app = express()
    app.use(session({ secret: SECRET, store, resave: false, saveUninitialized: false, cookie: { maxAge: 60_000 } }))
    app.get('/inc', (req, res) => {
      const s = req.session as unknown as { n?: number; sessionStoreIsOurs?: boolean }
      s.n = (s.n ?? 0) + 1
      res.json({ n: s.n, store: (req as unknown as { sessionStore: unknown }).sessionStore === store })
    })
    const running = await serve(app)
    const client = new Client(running.url)
    assert.deepEqual(JSON.parse((await client.get('/inc')).body), { n: 1, store: true })
    assert.deepEqual(JSON.parse((await client.get('/inc')).body), { n: 2, store: true })
    await running.close()
    const [stored] = [...store.data.values()].map((json) => JSON.parse(json))
    assert.equal(stored.n, 2)
    assert.equal(stored.cookie.originalMaxAge, 60_000)
    assert.equal(stored.cookie.httpOnly, true)
    assert.equal(stored.cookie.path, '/')
    assert.ok(Date.parse(stored.cookie.expires) > Date.now())
    assert.equal('__coatcheck' in stored, false, 'a drop-in session is stored exactly as express-session would')
  })

  it('Store#load and createSession build a Session with a Cookie', async () => {
    const store = new MemoryStore()
    store.set('x', { cookie: { originalMaxAge: 1000, expires: new Date(Date.now() + 1000) }, a: 1 })
    await new Promise((resolve) => setImmediate(resolve))
    const loaded = await new Promise<Session>((resolve, reject) =>
      store.load('x', (error, s) => (error ? reject(error) : resolve(s!))),
    )
    assert.ok(loaded instanceof Session)
    assert.ok(loaded.cookie instanceof Cookie)
    assert.equal(loaded.id, 'x')
    assert.equal((loaded as Session & { a?: number }).a, 1)
    assert.equal(loaded.cookie.originalMaxAge, 1000)
  })
})
