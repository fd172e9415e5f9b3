import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, it } from 'node:test'
import express from 'express'
import pg from 'pg'
import { createClient } from 'redis'
import { CoatcheckError, logIn, memoryStore, requireAuth, requireFresh, session } from '../../src/index.ts'
import { resolveOptions, type SessionOptions } from '../../src/session/options.ts'
import { listen } from '../support/http.ts'
import { SECRET, startApp } from './harness.ts'

/** The message of the INVALID_OPTION error `session(options)` throws. */
function messageOf(options: unknown): string {
  try {
    session(options as SessionOptions)
  } catch (error) {
    assert.ok(error instanceof CoatcheckError, `a CoatcheckError, not ${String(error)}`)
    assert.equal(error.code, 'INVALID_OPTION')
    return error.message
  }
  assert.fail(`session(${JSON.stringify(options)}) did not throw`)
}

describe('start-up errors name the fix', () => {
  it('a missing secret says it is required and how to make one', () => {
    for (const options of [undefined, {}, { secret: '' }]) {
      const message = messageOf(options)
      assert.match(message, /`secret` is required/)
      assert.match(message, /randomBytes\(32\)/)
    }
  })

  it('a typo gets the nearest option; express-session options point to the drop-in face or idleTimeout', () => {
    assert.match(messageOf({ secret: SECRET, idleTimout: 1000 }), /did you mean `idleTimeout`\?/)
    assert.match(messageOf({ secret: SECRET, cookie: { sameSit: 'lax' } }), /`cookie.sameSit`.*did you mean `sameSite`/)
    assert.match(messageOf({ secret: SECRET, resave: false }), /coatcheck\/express-session/)
    assert.match(messageOf({ secret: SECRET, saveUninitialized: false }), /coatcheck\/express-session/)
    assert.match(messageOf({ secret: SECRET, cookie: { maxAge: 60_000 } }), /`cookie.maxAge`.*idleTimeout/)
    assert.doesNotMatch(messageOf({ secret: SECRET, zzzzzz: 1 }), /did you mean/)
  })

  it('recognises a Redis client, a pg Pool, a factory that was not called and a Promise that was not awaited', () => {
    const client = createClient({ url: 'redis://127.0.0.1:1' })
    assert.match(
      messageOf({ secret: SECRET, store: client }),
      /Redis client: wrap it, `store: redisStore\(\{ client \}\)`/,
    )
    const pool = new pg.Pool({ connectionString: 'postgres://127.0.0.1:1/x' })
    assert.match(messageOf({ secret: SECRET, store: pool }), /pg Pool: wrap it, `store: await postgresStore/)
    void pool.end()
    assert.match(messageOf({ secret: SECRET, store: memoryStore }), /is a function: pass the store it makes/)
    const pending = Promise.resolve(memoryStore())
    assert.match(messageOf({ secret: SECRET, store: pending }), /is a Promise: await it first/)
  })

  it('refuses SameSite=None unless the cookie is always Secure (browsers drop it otherwise)', () => {
    assert.match(messageOf({ secret: SECRET, cookie: { sameSite: 'none' } }), /`cookie.sameSite`/)
    assert.equal(typeof session({ secret: SECRET, cookie: { sameSite: 'none', secure: true } }), 'function')
  })

  it('caps the timeouts at 400 days, and warns about an idle timeout under a minute (seconds meant as ms)', async () => {
    assert.match(messageOf({ secret: SECRET, absoluteTimeout: Number.MAX_SAFE_INTEGER }), /`absoluteTimeout`/)
    assert.match(messageOf({ secret: SECRET, idleTimeout: 401 * 86_400_000 }), /`idleTimeout`/)
    const warned = once(process, 'warning')
    session({ secret: SECRET, idleTimeout: 3600 })
    const [warning] = (await warned) as [Error & { code?: string }]
    assert.equal(warning.code, 'COATCHECK_SHORT_TIMEOUT')
    assert.match(warning.message, /3\.6 s/)
  })

  it('resolves one options object once: upgradeSessions and session() share what they resolve', () => {
    const options = { secret: SECRET, store: memoryStore() }
    assert.equal(resolveOptions(options), resolveOptions(options))
    assert.notEqual(resolveOptions(options), resolveOptions({ ...options }))
  })

  it('requireAuth and requireFresh mounted without calling them answer an error naming the fix, never hang', async () => {
    const app = express()
    app.use(session({ secret: SECRET }))
    app.get('/a', requireAuth as never, (_req, res) => res.send('reached'))
    app.get('/b', requireFresh as never, (_req, res) => res.send('reached'))
    const messages: string[] = []
    app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      messages.push(error.message)
      res.status(500).send('error')
    })
    const server = await listen(app)
    try {
      assert.equal((await fetch(`${server.url}/a`, { signal: AbortSignal.timeout(2000) })).status, 500)
      assert.equal((await fetch(`${server.url}/b`, { signal: AbortSignal.timeout(2000) })).status, 500)
      assert.match(messages[0]!, /mount what it returns: `requireAuth\(\)`/)
      assert.match(messages[1]!, /`requireFresh\(maxAgeMs\)`/)
    } finally {
      await server.close()
    }
  })
})

describe('tutorial habits', () => {
  it('assigning req.session.userId says to use logIn; logIn takes integer IDs as their decimal string', async () => {
    const app = await startApp({}, (express) => {
      express.post('/assign', (req, res) => {
        try {
          ;(req.session as Record<string, unknown>).userId = 42
          res.send('assigned')
        } catch (error) {
          res.status(500).send((error as Error).message)
        }
      })
      express.post('/login-number', async (req, res) => {
        await logIn(req, 42)
        res.json({ userId: req.session.userId })
      })
    })
    try {
      const assign = await app.browser().post('/assign')
      assert.match(assign.body, /`userId` is reserved.*`await logIn\(req, userId\)`/)
      const reply = await app.browser().post('/login-number')
      assert.deepEqual(JSON.parse(reply.body), { userId: '42' })
    } finally {
      await app.close()
    }
  })

  it('refuses user IDs and data keys no backend could keep exactly', async () => {
    const outcomes: Record<string, string> = {}
    const app = await startApp({}, (express) => {
      express.post('/login-bad/:case', async (req, res) => {
        const cases: Record<string, unknown> = {
          nul: 'a\0b',
          surrogate: 'q\ud800',
          empty: '',
          long: 'x'.repeat(257),
          float: 1.5,
          object: { id: 1 },
        }
        try {
          await logIn(req, cases[req.params.case as string] as string)
          res.send('logged in')
        } catch (error) {
          res.status(400).send((error as CoatcheckError).code)
        }
      })
      express.post('/key-bad/:case', (req, res) => {
        const keys: Record<string, string> = { nul: 'a\0b', surrogate: 'k\udbff', long: 'k'.repeat(129) }
        try {
          req.session[keys[req.params.case as string]!] = 1
          res.send('set')
        } catch (error) {
          res.status(400).send((error as CoatcheckError).code)
        }
      })
    })
    try {
      for (const name of ['nul', 'surrogate', 'empty', 'long', 'float', 'object']) {
        outcomes[name] = (await app.browser().post(`/login-bad/${name}`)).body
      }
      assert.deepEqual(Object.values(outcomes), Array(6).fill('INVALID_USER_ID'))
      for (const name of ['nul', 'surrogate', 'long']) {
        assert.equal((await app.browser().post(`/key-bad/${name}`)).body, 'INVALID_KEY')
      }
      assert.equal(app.spy.count('create'), 0, 'nothing was stored')
    } finally {
      await app.close()
    }
  })

  it('reserves the express-session envelope names `cookie` and `__coatcheck` in modern mode', async () => {
    const app = await startApp()
    try {
      for (const key of ['cookie', '__coatcheck']) {
        const reply = await app.browser().post('/session', { [key]: { userId: 'admin' } })
        assert.equal(reply.status, 500)
      }
    } finally {
      await app.close()
    }
  })
})

describe('cookies the browser will drop', () => {
  it('a Secure cookie set on a plain-HTTP request from another host warns once, naming trustProxy', async () => {
    const app = await startApp({ cookie: { secure: true } })
    try {
      const warned = once(process, 'warning')
      const { request } = await import('node:http')
      const port = new URL(app.url).port
      // From 127.0.0.2: not the loopback address a developer's own browser uses, so the warning applies.
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port, path: '/session', method: 'POST', localAddress: '127.0.0.2' },
          (res) => {
            res.resume()
            resolve(res.statusCode!)
          },
        )
        req.on('error', reject)
        req.setHeader('content-type', 'application/json')
        req.end(JSON.stringify({ a: 1 }))
      })
      assert.equal(status, 200)
      const [warning] = (await warned) as [Error & { code?: string }]
      assert.equal(warning.code, 'COATCHECK_SECURE_OVER_HTTP')
      assert.match(warning.message, /`trustProxy`/)
    } finally {
      await app.close()
    }
  })
})
