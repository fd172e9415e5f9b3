import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import pg from 'pg'
import { type SessionEvent, session } from '../../src/index.ts'
import { type PostgresStore, postgresStore } from '../../src/stores/postgres/index.ts'
import { Browser, listen, type Running } from '../support/http.ts'
import { type RunningPostgres, startPostgres } from '../support/postgres.ts'

const SECRET = 'test-secret-that-is-at-least-32-chars-long'

describe('postgres store: the database restarts under load', () => {
  let server: RunningPostgres
  let pool: pg.Pool
  let store: PostgresStore
  let app: Running
  const events: SessionEvent[] = []
  const escaped: unknown[] = []
  const onEscape = (error: unknown) => escaped.push(error)

  before(async () => {
    process.on('unhandledRejection', onEscape)
    process.on('uncaughtException', onEscape)
    server = await startPostgres()
    // No 'error' listener of its own: the store must keep idle-connection deaths from crashing the process.
    pool = new pg.Pool({ connectionString: server.connectionString, max: 4, connectionTimeoutMillis: 1000 })
    store = await postgresStore({ pool, pruneInterval: 25 })
    const web = express()
    web.set('env', 'test') // keeps Express's error handler from printing the expected 503s
    web.use(session({ secret: SECRET, store, onEvent: (e) => events.push(e) }))
    web.get('/visit', (req, res) => {
      const data = req.session as unknown as { visits?: number }
      data.visits = (data.visits ?? 0) + 1
      res.json({ visits: data.visits })
    })
    app = await listen(web)
  })

  after(async () => {
    await app?.close()
    await store?.close()
    await pool?.end()
    await server?.stop()
    process.off('unhandledRejection', onEscape)
    process.off('uncaughtException', onEscape)
  })

  it('answers 200 or 503 only, stays up, and recovers once the database is back', async (t) => {
    const browsers = Array.from({ length: 4 }, () => new Browser(app.url))
    for (const browser of browsers) assert.equal((await browser.get('/visit')).status, 200)

    const statuses: number[] = []
    const afterRestart: number[] = []
    let restarted = false
    // Four loops keep requests in flight before, during and after the restart: 100 requests or more in all.
    const load = browsers.map(async (browser) => {
      while (statuses.length < 100 || afterRestart.length < 20) {
        // A request sent before the restart finished may still fail; only those sent after it count as "after".
        const sentAfter = restarted
        const { status } = await browser.get('/visit')
        statuses.push(status)
        if (sentAfter) afterRestart.push(status)
      }
    })
    while (statuses.length < 30) await new Promise((resolve) => setImmediate(resolve))
    await server.restart()
    restarted = true
    await Promise.all(load)

    const counts = Object.fromEntries(Object.entries(Object.groupBy(statuses, String)).map(([k, v]) => [k, v?.length]))
    t.diagnostic(`statuses: ${JSON.stringify(counts)}`)
    assert.deepEqual(
      Object.keys(counts).filter((s) => s !== '200' && s !== '503'),
      [],
      JSON.stringify(counts),
    )
    assert.ok(statuses.length >= 100)
    assert.ok((counts['503'] ?? 0) > 0, 'the restart failed requests in flight')
    assert.deepEqual(new Set(afterRestart), new Set([200]), 'every request sent after the restart succeeds')
    for (const event of events.filter((e) => e.type === 'store-error')) {
      assert.equal((event.error as { status?: number }).status, 503)
    }

    // Back to normal: every browser's next requests succeed, on the data that survived the restart.
    for (const browser of browsers) {
      const first = await browser.get('/visit')
      const second = await browser.get('/visit')
      assert.deepEqual([first.status, second.status], [200, 200])
      assert.equal(JSON.parse(second.body).visits, JSON.parse(first.body).visits + 1)
    }
    assert.deepEqual(escaped, [])
  })
})
