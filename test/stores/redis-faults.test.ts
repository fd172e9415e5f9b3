import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import express from 'express'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { session } from '../../src/index.ts'
import { type RedisClient, redisStore } from '../../src/stores/redis/index.ts'
import { keyOf, SECRET } from '../session/harness.ts'
import { Browser, listen, type Reply, type Running } from '../support/http.ts'
import { freePort, startRedis } from '../support/redis.ts'

const STORE_TIMEOUT = 1_000

/** A client the way an app would make one, with no 'error' listener of its own: the store must keep the process up. */
interface Client {
  client: RedisClient
  /** Settles once the first connection is up (node-redis apps await `connect()`). */
  ready: Promise<unknown>
  raw(...args: string[]): Promise<unknown>
  close(): void
}

const flavours: Record<string, (port: number) => Client> = {
  'node-redis': (port) => {
    const client = createClient({ url: `redis://127.0.0.1:${port}` })
    // Not awaited here: an app whose Redis is down must still start.
    const ready = client.connect()
    ready.catch(() => {})
    return { client, ready, raw: (...args) => client.sendCommand(args), close: () => client.destroy() }
  },
  ioredis: (port) => {
    const client = new Redis(port, '127.0.0.1')
    return {
      client,
      // Not events.once(), which would listen for 'error' too.
      ready: new Promise((resolve) => client.once('ready', resolve)),
      raw: (command, ...args) => client.call(command!, ...args),
      close: () => client.disconnect(),
    }
  },
}

async function startApp(client: RedisClient, prefix: string): Promise<Running> {
  const app = express()
  app.set('env', 'test') // keeps Express's error handler quiet about the expected 503s
  app.use(express.json())
  app.use(session({ secret: SECRET, store: redisStore({ client, prefix }), storeTimeout: STORE_TIMEOUT }))
  app.get('/session', (req, res) => {
    res.json({ data: { ...req.session } })
  })
  app.post('/session', (req, res) => {
    Object.assign(req.session, req.body)
    res.json({ ok: true })
  })
  return listen(app)
}

/** Repeats `attempt` until it answers 200, for at most `ms`. */
async function until200(attempt: () => Promise<Reply>, ms = 15_000): Promise<Reply> {
  const deadline = Date.now() + ms
  for (;;) {
    const reply = await attempt()
    if (reply.status === 200 || Date.now() > deadline) return reply
    await sleep(100)
  }
}

// Crashes are what these tests look for: record them instead of letting node:test report them elsewhere.
const crashes: unknown[] = []
const warnings: Error[] = []
const onCrash = (error: unknown) => crashes.push(error)
const onWarning = (warning: Error) => warnings.push(warning)
before(() => {
  process.on('uncaughtException', onCrash)
  process.on('unhandledRejection', onCrash)
  process.on('warning', onWarning)
})
after(() => {
  process.off('uncaughtException', onCrash)
  process.off('unhandledRejection', onCrash)
  process.off('warning', onWarning)
})

for (const [name, connect] of Object.entries(flavours)) {
  describe(`redisStore faults: ${name}`, () => {
    const cleanup: (() => unknown)[] = []
    afterEach(async () => {
      for (const step of cleanup.splice(0).reverse()) await step()
      assert.deepEqual(crashes.splice(0), [], 'no uncaught exception or unhandled rejection')
    })

    it('starts with Redis down, answers 503 fast, and recovers once Redis is up, without a restart', async () => {
      const port = await freePort()
      const { client, close } = connect(port)
      cleanup.push(close)
      const app = await startApp(client, 'down:')
      cleanup.push(() => app.close())
      const browser = new Browser(app.url)

      const began = Date.now()
      const down = await browser.post('/session', { a: 1 })
      assert.equal(down.status, 503)
      assert.deepEqual(down.setCookies, [], 'no cookie for a session that was not stored')
      assert.ok(Date.now() - began < STORE_TIMEOUT + 500, `answered in ${Date.now() - began} ms`)
      assert.ok(
        warnings.some((w) => (w as Error & { code?: string }).code === 'COATCHECK_REDIS_ERROR'),
        'the client error was reported as a warning, not thrown',
      )

      const redis = await startRedis({ port })
      cleanup.push(() => redis.stop())
      assert.equal((await until200(() => browser.post('/session', { a: 1 }))).status, 200)
      assert.deepEqual(JSON.parse((await browser.get('/session')).body).data, { a: 1 })
    })

    it('answers only 200 or 503 when Redis is SIGKILLed under load, then recovers', async () => {
      const redis = await startRedis()
      cleanup.push(() => redis.stop())
      const { client, ready, close } = connect(redis.port)
      cleanup.push(close)
      await ready
      const app = await startApp(client, 'load:')
      cleanup.push(() => app.close())
      const browsers = Array.from({ length: 10 }, () => new Browser(app.url))
      for (const b of browsers) assert.equal((await b.post('/session', { n: 0 })).status, 200)

      let answered = 0
      const inFlight = Array.from({ length: 50 }, async (_, i) => {
        const b = browsers[i % browsers.length]!
        const reply = await (i % 2 ? b.get('/session') : b.post('/session', { n: i }))
        answered++
        return reply
      })
      // SIGKILL once the first answers are back, with the rest still in flight.
      while (answered < 5) await sleep(1)
      await redis.kill()
      const statuses = (await Promise.all(inFlight)).map((r) => r.status)
      assert.deepEqual(
        statuses.filter((s) => s !== 200 && s !== 503),
        [],
        `statuses: ${statuses}`,
      )
      assert.ok(statuses.includes(200) && statuses.includes(503), `Redis died mid-load: ${statuses}`)
      const began = Date.now()
      assert.equal((await browsers[0]!.post('/session', { n: 1 })).status, 503, 'fails closed while Redis is away')
      assert.ok(Date.now() - began < STORE_TIMEOUT, 'without waiting for storeTimeout: the client is reconnecting')

      await redis.restart()
      // Without persistence the sessions are gone; a new one is created and used.
      const fresh = new Browser(app.url)
      assert.equal((await until200(() => fresh.post('/session', { n: 2 }))).status, 200)
      assert.deepEqual(JSON.parse((await fresh.get('/session')).body).data, { n: 2 })
    })

    it('keeps sessions and their deadlines across a SIGKILL and restart with AOF', async () => {
      const redis = await startRedis({ appendonly: true })
      cleanup.push(() => redis.stop())
      const { client, ready, raw, close } = connect(redis.port)
      cleanup.push(close)
      await ready
      const app = await startApp(client, 'aof:')
      cleanup.push(() => app.close())
      const browser = new Browser(app.url)
      assert.equal((await browser.post('/session', { cart: ['tea'] })).status, 200)
      const key = `aof:s:${keyOf(browser)}`
      const before = Number(await raw('PTTL', key))
      assert.ok(before > 23 * 3_600_000, `PTTL ${before}`)

      await redis.kill()
      await redis.restart()
      const reply = await until200(() => browser.get('/session'))
      assert.equal(reply.status, 200)
      assert.deepEqual(JSON.parse(reply.body).data, { cart: ['tea'] })
      const afterRestart = Number(await raw('PTTL', key))
      assert.ok(afterRestart > 0 && afterRestart <= before, `PTTL ${afterRestart} after ${before}`)
      assert.ok(before - afterRestart < 60_000, 'the deadline is absolute, not restarted')
    })
  })
}
