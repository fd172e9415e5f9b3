import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import express from 'express'
import { createClient } from 'redis'
import {
  CoatcheckError,
  hashPassword,
  type LoginThrottleOptions,
  logIn,
  loginThrottle,
  memoryStore,
  type SessionEvent,
  type SessionOptions,
  session,
  verifyPassword,
} from '../../src/index.ts'
import { redisStore } from '../../src/stores/redis/index.ts'
import type { CoatcheckStore, CounterStore } from '../../src/stores/types.ts'
import { Browser, listen, type Reply, send } from '../support/http.ts'
import { startRedis } from '../support/redis.ts'
import { SECRET } from './harness.ts'

interface Throttled {
  url: string
  /** Attempts that got past the throttle to the login handler. */
  reached: number
  events: SessionEvent[]
  /** Every key the throttle's counters were hit on, in order. */
  hits: string[]
  /** The stored state of a counter, read from the store behind the app. */
  counter(key: string): ReturnType<CounterStore['peek']>
  attempt(body?: Record<string, unknown>, headers?: Record<string, string>): Promise<Reply>
  close(): Promise<void>
}

/** Counters that take `ms()` to reach the store and as long to come back, as a networked store does. */
function slow(counters: CounterStore, ms: () => number): CounterStore {
  const trip = async <T>(call: () => Promise<T>) => {
    await sleep(ms())
    const result = await call()
    await sleep(ms())
    return result
  }
  return {
    hit: (key, windowMs) => trip(() => counters.hit(key, windowMs)),
    peek: (key) => trip(() => counters.peek(key)),
    reset: (key) => trip(() => counters.reset(key)),
  }
}

/** An app whose POST /login is throttled and always answers 401, counting the attempts that reach it. */
async function startThrottled(
  options: {
    throttle?: LoginThrottleOptions
    session?: Partial<SessionOptions>
    store?: CoatcheckStore
    counters?: (inner: CounterStore) => CounterStore
  } = {},
): Promise<Throttled> {
  const store = options.store ?? memoryStore()
  const events: SessionEvent[] = []
  const hits: string[] = []
  const wrapped = options.counters?.(store.counters) ?? store.counters
  const counters: CounterStore = {
    hit: (key, windowMs) => {
      hits.push(key)
      return wrapped.hit(key, windowMs)
    },
    peek: (key) => wrapped.peek(key),
    reset: (key) => wrapped.reset(key),
  }
  const app = express()
  app.set('env', 'test')
  app.use(express.json())
  app.use(session({ secret: SECRET, store, onEvent: (event) => events.push(event), ...options.session }))
  const state = { reached: 0 }
  app.post(
    '/login',
    loginThrottle({ account: (req) => req.body?.email, store: { counters }, ...options.throttle }),
    (_req, res) => {
      state.reached++
      res.status(401).json({ error: 'Invalid credentials' })
    },
  )
  const running = await listen(app)
  return {
    url: running.url,
    get reached() {
      return state.reached
    },
    events,
    hits,
    counter: (key) => store.counters.peek(key),
    attempt: (body = {}, headers = {}) =>
      send(`${running.url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(5_000),
      }),
    close: async () => {
      await running.close()
      await store.close?.()
    },
  }
}

/** How many replies had each status. */
function tally(replies: Reply[]): Record<number, number> {
  const counts: Record<number, number> = {}
  for (const { status } of replies) counts[status] = (counts[status] ?? 0) + 1
  return counts
}

describe('loginThrottle', () => {
  it('only a login made by this very request clears the account count, not an existing session', async (t) => {
    const store = memoryStore()
    const app = express()
    app.use(express.json())
    app.use(session({ secret: SECRET, store }))
    app.post('/me', async (req, res) => {
      await logIn(req, 'mallory')
      res.json({ ok: true })
    })
    // A server-rendered app answering a failed login with the form again, status 200.
    app.post(
      '/login',
      loginThrottle({
        account: (req) => req.body?.email,
        perAccount: { max: 3, windowMs: 60_000 },
      }),
      (_req, res) => {
        res.send('<form>Wrong email or password</form>')
      },
    )
    const running = await listen(app)
    t.after(async () => {
      await running.close()
      await store.close?.()
    })
    const attacker = new Browser(running.url)
    await attacker.post('/me') // logged in as someone else
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) statuses.push((await attacker.post('/login', { email: 'victim@example.com' })).status)
    assert.deepEqual(statuses, [200, 200, 200, 429, 429])
  })

  describe('a burst gets no more than max attempts per window, and one strike', () => {
    const latencies: Record<string, (() => number) | undefined> = {
      'the memory store': undefined,
      'a store 1–5 ms away': () => 1 + Math.random() * 4,
    }
    for (const [name, latency] of Object.entries(latencies)) {
      it(`20 concurrent attempts on one account, on ${name}`, async (t) => {
        const app = await startThrottled({
          throttle: { perAccount: { max: 5, windowMs: 60_000 }, backoff: { baseMs: 1_000, maxMs: 64_000 } },
          ...(latency && { counters: (inner: CounterStore) => slow(inner, latency) }),
        })
        t.after(() => app.close())
        const burst = () => Promise.all(Array.from({ length: 20 }, () => app.attempt({ email: 'ada@example.com' })))

        const first = await burst()
        assert.equal(app.reached, 5, 'password checks in the first window')
        assert.deepEqual(tally(first), { 401: 5, 429: 15 })
        const strikes = app.hits.filter((key) => key.startsWith('strikes:a:'))
        assert.equal(strikes.length, 1, 'one strike for the burst')
        assert.equal((await app.counter(strikes[0]!))?.count, 1)
        assert.deepEqual(
          new Set(first.filter((r) => r.status === 429).map((r) => r.headers.get('retry-after'))),
          new Set(['1']),
        )

        await sleep(1_100) // the first lockout (1 s) ends; the window (60 s) does not
        const second = await burst()
        assert.equal(app.reached, 10, 'a new allowance after the lockout, not a reset mid-burst')
        assert.deepEqual(tally(second), { 401: 5, 429: 15 })
        const retries = new Set(second.filter((r) => r.status === 429).map((r) => r.headers.get('retry-after')))
        assert.deepEqual(retries, new Set(['2']), 'the second lockout is the second, not the sixteenth')
      })
    }

    it('staggered attempts on a slow store, per account and per IP', async (t) => {
      const app = await startThrottled({
        throttle: { perAccount: { max: 5, windowMs: 60_000 }, perIp: { max: 8, windowMs: 60_000 } },
        counters: (inner) => slow(inner, () => 1 + Math.random() * 4),
      })
      t.after(() => app.close())
      const staggered = async (body: (i: number) => Record<string, unknown>) => {
        const replies: Promise<Reply>[] = []
        for (let i = 0; i < 20; i++) {
          replies.push(app.attempt(body(i)))
          await sleep(2)
        }
        return Promise.all(replies)
      }
      assert.deepEqual(tally(await staggered(() => ({ email: 'bob@example.com' }))), { 401: 5, 429: 15 })
      assert.equal(app.reached, 5)
      // Five more IP attempts are left, whatever the accounts.
      assert.deepEqual(tally(await staggered((i) => ({ email: `user${i}@example.com` }))), { 401: 3, 429: 17 })
      assert.equal(app.reached, 8)
      assert.equal(app.hits.filter((key) => key.startsWith('strikes:')).length, 2, 'one per locked subject')
    })
  })

  describe('counter calls are guarded store calls', () => {
    it('with Redis down, a login without a session cookie is a 503 with a store-error, not a 500', async (t) => {
      const redis = await startRedis()
      const client = createClient({ url: redis.url })
      await client.connect()
      t.after(() => client.destroy())
      const app = await startThrottled({ store: redisStore({ client }), session: { storeTimeout: 1_000 } })
      t.after(() => app.close())
      await redis.stop()
      const began = Date.now()
      const reply = await app.attempt({ email: 'ada@example.com', password: 'x' })
      assert.equal(reply.status, 503)
      assert.ok(Date.now() - began < 1_500, `answered in ${Date.now() - began} ms`)
      assert.equal(app.reached, 0)
      const errors = app.events.filter((e) => e.type === 'store-error')
      assert.equal(errors.length, 1)
      const error = errors[0]!.error as CoatcheckError
      assert.ok(error instanceof CoatcheckError && ['STORE_ERROR', 'STORE_TIMEOUT'].includes(error.code))
      const cause = (error.cause as Error | undefined)?.message
      if (cause) assert.ok(!reply.body.includes(cause), 'the raw store error stays out of the response')
    })

    it('a counters store that never answers fails within storeTimeout with STORE_TIMEOUT', async (t) => {
      const silent: CounterStore = {
        hit: () => new Promise(() => {}),
        peek: () => new Promise(() => {}),
        reset: () => new Promise(() => {}),
      }
      const app = await startThrottled({ session: { storeTimeout: 200 }, throttle: { store: { counters: silent } } })
      t.after(() => app.close())
      const began = Date.now()
      const reply = await app.attempt({ email: 'ada@example.com' })
      assert.equal(reply.status, 503)
      assert.ok(Date.now() - began < 1_000, `answered in ${Date.now() - began} ms`)
      const errors = app.events.filter((e) => e.type === 'store-error')
      assert.deepEqual(
        errors.map((e) => (e.error as CoatcheckError).code),
        ['STORE_TIMEOUT'],
      )
    })
  })

  describe('per-IP keys', () => {
    const fromIp = (app: Throttled, ip: string) => app.attempt({}, { 'x-forwarded-for': ip })

    it('IPv6 clients are counted per /64, IPv4-mapped IPv6 as the IPv4 address', async (t) => {
      const app = await startThrottled({
        session: { trustProxy: true },
        throttle: { perIp: { max: 2, windowMs: 60_000 } },
      })
      t.after(() => app.close())
      const statuses = async (ips: string[]) => {
        const out: number[] = []
        for (const ip of ips) out.push((await fromIp(app, ip)).status)
        return out
      }
      assert.deepEqual(await statuses(['2001:db8:1:2::1', '2001:db8:1:2:ffff:ffff:ffff:fffe']), [401, 401])
      assert.deepEqual(
        await statuses(['2001:DB8:1:2:0:0:0:7', 'fe80::1', 'fe80::2%eth0', 'fe80:0::3']),
        [429, 401, 401, 429],
      )
      assert.deepEqual(await statuses(['2001:db8:1:3::1']), [401], 'the next /64 is another client')
      assert.deepEqual(await statuses(['::ffff:192.0.2.1', '192.0.2.1', '::ffff:c000:201']), [401, 401, 429])
      assert.deepEqual(await statuses(['192.0.2.2']), [401], 'IPv4 per address')
    })

    it('ipv6Subnet: 128 counts every address, in whatever spelling', async (t) => {
      const app = await startThrottled({
        session: { trustProxy: true },
        throttle: { perIp: { max: 2, windowMs: 60_000 }, ipv6Subnet: 128 },
      })
      t.after(() => app.close())
      for (const ip of ['2001:db8::1', '2001:db8::2', '2001:db8::3']) assert.equal((await fromIp(app, ip)).status, 401)
      assert.equal((await fromIp(app, '2001:0db8:0000:0000:0000:0000:0000:0001')).status, 401)
      assert.equal((await fromIp(app, '2001:DB8:0:0::1')).status, 429)
    })
  })

  describe('hostile forms', () => {
    it('an account that is not a string (a field sent twice, a number, an object) is no account, not a 500', async (t) => {
      const app = await startThrottled()
      t.after(() => app.close())
      for (const email of [['a@example.com', 'b@example.com'], 42, { $gt: '' }, null, true, '   ']) {
        assert.equal((await app.attempt({ email })).status, 401, JSON.stringify(email))
      }
      assert.equal(app.reached, 6)
      assert.equal(app.hits.filter((key) => key.startsWith('n:a:')).length, 0, 'counted per IP only')
    })

    it('the README login route answers 401, never 500, to a form without a password or with a field twice', async (t) => {
      const hash = await hashPassword('correct horse')
      const users = new Map([['ada@example.com', { id: 'u-ada', passwordHash: hash }]])
      const store = memoryStore()
      const app = express()
      app.set('env', 'test')
      app.use(express.urlencoded({ extended: false }))
      app.use(session({ secret: SECRET, store }))
      // As the README has it, and as a strict TypeScript app compiles it: no cast on req.body.
      app.post('/login', loginThrottle({ account: (req) => req.body.email }), async (req, res) => {
        const user = users.get(req.body.email)
        const { ok } = await verifyPassword(user?.passwordHash, req.body.password)
        if (!user || !ok) return res.status(401).json({ error: 'Invalid credentials' })
        await logIn(req, user.id)
        res.redirect(303, '/dashboard')
      })
      const running = await listen(app)
      t.after(async () => {
        await running.close()
        await store.close?.()
      })
      const form = (body: string) =>
        send(`${running.url}/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body,
        })
      const forms = [
        'email=ada%40example.com',
        'email=ada%40example.com&password=',
        'email=ada%40example.com&password=correct+horse&password=correct+horse',
        'email=ada%40example.com&email=ada%40example.com&password=correct+horse',
        'email=nobody%40example.com',
        '',
      ]
      for (const body of forms) assert.equal((await form(body)).status, 401, body)
      assert.equal((await form('email=ada%40example.com&password=correct+horse')).status, 303)
    })
  })

  it('rejects unknown and malformed options at start-up with INVALID_OPTION, naming the nearest option', () => {
    const cases: Array<[unknown, RegExp]> = [
      [
        { perAcount: { max: 1, windowMs: 1 } },
        /`perAcount` is not a known option of loginThrottle\(\); did you mean `perAccount`\?/,
      ],
      [
        { perAccount: { max: 1, windowMS: 1 } },
        /`perAccount\.windowMS` is not a known option .*did you mean `windowMs`\?/,
      ],
      [{ perIp: { max: 1, windowMs: 1, maxx: 2 } }, /`perIp\.maxx` .*did you mean `max`\?/],
      [{ backoff: { baseMs: 1, maxMs: 2, baseMS: 1 } }, /`backoff\.baseMS` .*did you mean `baseMs`\?/],
      [{ ipv6subnet: 48 }, /did you mean `ipv6Subnet`\?/],
      [{ perIp: 5 }, /`perIp` of loginThrottle\(\) must be an object/],
      [{ backoff: 'exponential' }, /`backoff` of loginThrottle\(\) must be an object/],
      [{ perAccount: { max: 0, windowMs: 1 } }, /`perAccount\.max` must be an integer/],
      [{ perAccount: { max: 5 } }, /`perAccount\.windowMs` is required/],
      [{ backoff: { baseMs: 10, maxMs: 5 } }, /`backoff` needs baseMs ≤ maxMs/],
      [{ ipv6Subnet: 0 }, /`ipv6Subnet` must be an integer from 1 to 128/],
      [{ ipv6Subnet: 129 }, /`ipv6Subnet`/],
      [{ ipv6Subnet: 56.5 }, /`ipv6Subnet`/],
      [{ account: 'email' }, /`account` must be a function/],
      [{ store: null }, /`store` must have rate-limit counters/],
      [{ store: {} }, /`store` must have rate-limit counters/],
      [null, /`options` of loginThrottle\(\) must be an object/],
    ]
    for (const [options, message] of cases) {
      assert.throws(
        () => loginThrottle(options as LoginThrottleOptions),
        (e) => e instanceof CoatcheckError && e.code === 'INVALID_OPTION' && message.test(e.message),
        JSON.stringify(options),
      )
    }
    assert.doesNotThrow(() => loginThrottle({ ipv6Subnet: 48, backoff: { baseMs: 1, maxMs: 1 } }))
  })

  it('types: account receives the Express request under strict, no cast needed', () => {
    loginThrottle({ account: (req) => req.body.email })
    loginThrottle({ account: (req: express.Request) => req.body.email })
    loginThrottle({ account: (req) => req.headers['x-account'] })
    // @ts-expect-error: the request has no such member
    loginThrottle({ account: (req) => req.nope })
  })
})
