/**
 * The session write path (b7ec90a, c94338f, 341cd6b, 9afe903), from an adversarial review: what it found (fixed, each
 * failing before: a Redis `z` that drifted low, a login lost to a session stored above `maxBytes`), and the cases it
 * checked and found holding. Needs redis-server (test/support/redis.ts).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import real from 'express-session'
import { createClient } from 'redis'
import { upgradeSessions } from '../../src/express-session/index.ts'
import { logIn, memoryStore, session } from '../../src/index.ts'
import { peekSession } from '../../src/stores/peek.ts'
import { redisStore } from '../../src/stores/redis/index.ts'
import { dataBytes } from '../../src/stores/size.ts'
import type { CoatcheckStore, SessionRecord } from '../../src/stores/types.ts'
import { Gate } from '../support/gate.ts'
import { Browser, listen, type Running } from '../support/http.ts'
import { type RedisServer, startRedis } from '../support/redis.ts'
import { type Harness, keyOf, SECRET, startApp } from './harness.ts'

const HOUR = 3_600_000
const MAX = 1000
/** A JSON string text of `n` bytes in all (quotes included). */
const text = (n: number, c = 'x') => `"${c.repeat(n - 2)}"`

function record(data: Record<string, string>): SessionRecord {
  const now = Date.now()
  return {
    data,
    userId: null,
    meta: {},
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + HOUR,
    absoluteExpiresAt: now + 2 * HOUR,
  }
}

describe('the Redis store counts a key unset twice once (its `z` does not drift)', () => {
  let server: RedisServer
  let client: ReturnType<typeof createClient>
  let store: CoatcheckStore
  let app: Harness
  const prefix = `review:${Date.now()}:`
  before(async () => {
    server = await startRedis()
    client = createClient({ url: server.url })
    await client.connect()
    store = redisStore({ client, prefix })
    app = await startApp({ store, maxBytes: MAX })
  })
  after(async () => {
    await app?.close()
    await client?.close()
    await server?.stop()
  })

  it('refuses a patch whose data would grow past maxBytes, as memory, SQLite, PostgreSQL and the adapter do', async () => {
    // a: 1 + 500, c: 1 + 400 = 902 bytes. Unset a (listed twice), set b: 1 + 700 -> 1 102 bytes, growing.
    assert.equal(await store.create('k1', record({ a: text(500), c: text(400) })), true)
    let outcome: unknown
    try {
      outcome = await store.update('k1', { unset: ['a', 'a'], set: { b: text(700) }, maxBytes: MAX })
    } catch (error) {
      outcome = (error as { code?: string }).code
    }
    const stored = dataBytes((await store.get('k1'))!.data)
    assert.equal(outcome, 'SESSION_TOO_LARGE', `the patch applied: the data is now ${stored} bytes`)
    assert.ok(stored <= MAX)
  })

  it('after one such patch, ordinary requests cannot grow the session past maxBytes', async () => {
    const browser = app.browser()
    assert.equal((await browser.post('/session', { a: 'x'.repeat(400), c: 'c'.repeat(400) })).status, 200)
    const key = keyOf(browser)
    // A maintenance job drops keys from a list that happens to name one twice: no `set`, so no bound, and it shrinks.
    assert.equal(await store.update(key, { unset: ['a', 'a'] }), true)
    // The hash's `z` (the size every bounded write is judged by) should be the data's size: 403 bytes.
    const z = await client.hGet(`${prefix}s:${key}`, 'z')
    // Each request adds 403 bytes, under maxBytes on its own; the store now believes the data is 403 bytes smaller.
    assert.equal((await browser.post('/session', { b: 'y'.repeat(400) })).status, 200, '403 + 403 = 806 bytes')
    const third = await browser.post('/session', { d: 'z'.repeat(400) })
    const stored = dataBytes((await store.get(key))!.data)
    const why = `z was ${z} for 403 bytes; the session is now stored at ${stored} bytes (maxBytes ${MAX})`
    assert.equal(third.status, 413, why)
    assert.ok(stored <= MAX)
  })
})

// An express-session session larger than maxBytes is carried over as it is, like one stored under a larger bound
// before: it may shrink, never grow, and it survives the login that moves it to a new ID.
describe('upgradeSessions and a session past maxBytes', () => {
  const running: Running[] = []
  const modernStore = memoryStore()
  let oldBrowser: Browser
  let modernUrl: string
  before(async () => {
    const legacy = new real.MemoryStore()
    const old = express()
    old.use(express.json({ limit: '1mb' }))
    old.use(real({ secret: 'keyboard cat', store: legacy, resave: false, saveUninitialized: false }))
    old.post('/set', (req, res) => {
      Object.assign(req.session, req.body)
      res.json({ ok: true })
    })
    const oldServer = await listen(old)
    running.push(oldServer)

    const options = { secret: SECRET, store: modernStore, maxBytes: MAX }
    const modern = express()
    modern.use(upgradeSessions({ session: options, store: legacy, secret: 'keyboard cat' }))
    modern.use(session(options))
    modern.get('/n', (req, res) => res.json({ keys: Object.keys(req.session) }))
    modern.post('/login-and-grow', (req, res) => {
      req.session.more = 'x'
      res.json({ ok: true })
    })
    modern.post('/login', async (req, res, next) => {
      try {
        await logIn(req, 'u1')
        res.json({ ok: true })
      } catch (error) {
        next(error)
      }
    })
    modern.use((error: { status?: number; code?: string }, _req: unknown, res: express.Response, _next: unknown) => {
      res.status(error.status ?? 500).json({ code: error.code })
    })
    const modernServer = await listen(modern)
    running.push(modernServer)
    modernUrl = modernServer.url
    oldBrowser = new Browser(oldServer.url)
  })
  after(async () => {
    for (const r of running) await r.close()
    await modernStore.close?.()
  })

  /** A browser holding an express-session session of 3 006 bytes of data, moved to the modern app. */
  async function movedBrowser(): Promise<Browser> {
    oldBrowser.jar.clear()
    assert.equal((await oldBrowser.post('/set', { cart: 'x'.repeat(3000) })).status, 200)
    const browser = new Browser(modernUrl)
    for (const [name, value] of oldBrowser.jar) browser.jar.set(name, value)
    return browser
  }

  it('carries it over as it is, and then lets it shrink but not grow', async () => {
    const browser = await movedBrowser()
    assert.equal((await browser.get('/n')).status, 200)
    const bytes = dataBytes(peekSession(modernStore)!(keyOf(browser))!.data)
    assert.equal(bytes, 4 + 3002, 'the whole cart came along')
    const grown = await browser.post('/login-and-grow')
    assert.equal(grown.status, 413, 'a growing change is refused')
  })

  it('keeps its data through the first logIn (a new ID carrying what was stored, not growing it)', async () => {
    const browser = await movedBrowser()
    assert.equal((await browser.get('/n')).status, 200)
    const login = await browser.post('/login')
    assert.equal(login.status, 200, `logIn answered ${login.status} ${login.body}`)
    const moved = peekSession(modernStore)!(keyOf(browser))
    assert.equal(moved?.userId, 'u1')
    assert.equal(dataBytes(moved!.data), 4 + 3002)
  })
})

describe('holds: the write path under the cases the brief lists (memory store)', () => {
  let app: Harness
  /** While set, the store holds every update until it opens: a write stays in flight. */
  let gate: Gate | undefined
  const backing = memoryStore()
  const held: CoatcheckStore = {
    ...backing,
    get: (key) => backing.get(key),
    update: async (key, patch) => {
      await gate?.wait()
      return backing.update(key, patch)
    },
  }
  before(async () => {
    app = await startApp({ maxBytes: MAX, store: held }, (e) => {
      e.post('/login', async (req, res) => {
        Object.assign(req.session, req.body)
        await logIn(req, 'u1')
        res.json({ ok: true })
      })
      // An unawaited save, a change while it is in flight, then the commit.
      e.post('/inflight', async (req, res) => {
        req.session.b = 'b'.repeat(400)
        const saving = req.session.save()
        while (gate!.arrived === 0) await new Promise((resolve) => setTimeout(resolve, 1))
        req.session.c = 'c'.repeat(400) // while the update of b is held in the store
        gate!.open()
        await saving
        res.json({ ok: true })
      })
      e.post('/twice', async (req, res) => {
        req.session.p = 1
        await req.session.save()
        delete req.session.p
        req.session.q = 2
        await req.session.save()
        await req.session.reload()
        res.json({ ...req.session })
      })
    })
  })
  after(async () => {
    await app.close()
    await backing.close?.()
  })

  it('a create (login carrying data) is refused exactly past maxBytes, never stored larger', async () => {
    // 'a' (1) + JSON of 996 x's (998) = 999; 'b' + '1' = 2 -> 1 001 over two keys, each under the bound alone.
    const over = app.browser()
    assert.equal((await over.post('/login', { a: 'x'.repeat(996), b: 1 })).status, 413)
    const exact = app.browser()
    assert.equal((await exact.post('/login', { a: 'x'.repeat(995), b: 1 })).status, 200)
    assert.equal(dataBytes((await backing.get(keyOf(exact)))!.data), MAX)
  })

  it('a change made while an unawaited save is in flight is sized against what that save stored', async () => {
    const browser = app.browser()
    assert.equal((await browser.post('/session', { a: 'a'.repeat(300) })).status, 200)
    gate = new Gate()
    const reply = await browser.post('/inflight')
    gate = undefined
    // 303 + 403 + 403 = 1 109: the commit's change (c) alone is under the bound; the store refuses the whole.
    assert.equal(reply.status, 413)
    assert.deepEqual(Object.keys((await backing.get(keyOf(browser)))!.data).sort(), ['a', 'b'])
  })

  it('two writes in one request, and a reload after them, see each other (lazy unapplied diffs)', async () => {
    const browser = app.browser()
    assert.equal((await browser.post('/session', { s: 1 })).status, 200)
    const reply = await browser.post('/twice')
    assert.deepEqual(JSON.parse(reply.body), { s: 1, q: 2 })
  })

  it('the memory store keeps its hot record in step with writes, expiry and slot reuse', async () => {
    let now = 1_000_000
    const store = memoryStore({ maxEntries: 2, now: () => now })
    const peek = peekSession(store)!
    const r = (data: Record<string, string>, expiresAt: number): SessionRecord => ({
      ...record(data),
      createdAt: now,
      lastSeenAt: now,
      expiresAt,
      absoluteExpiresAt: now + HOUR,
    })
    await store.create('a', r({ x: '1' }, now + 10))
    const first = peek('a')!
    assert.equal(await store.update('a', { set: { y: '2' }, unset: ['x'], meta: { m: 1 }, expiresAt: now + 20 }), true)
    assert.deepEqual({ ...first.data }, { x: '1' }, 'the record handed out before is left as it was')
    const hot = peek('a')!
    assert.deepEqual({ ...hot.data, ...hot.meta, expiresAt: hot.expiresAt }, { y: '2', m: 1, expiresAt: now + 20 })
    assert.ok(Object.isFrozen(hot) && Object.isFrozen(hot.data) && Object.isFrozen(hot.meta))
    // Expire a, fill the store so its slot is reused by another key: no trace of a's hot record.
    now += 25
    await store.create('b', r({ b: '1' }, now + 10))
    await store.create('c', r({ c: '1' }, now + 10))
    assert.equal(peek('a'), undefined)
    assert.deepEqual({ ...peek('c')!.data }, { c: '1' })
    assert.equal(await store.update('a', { set: { z: '1' } }), false)
    assert.deepEqual({ ...peek('b')!.data }, { b: '1' })
  })
})
