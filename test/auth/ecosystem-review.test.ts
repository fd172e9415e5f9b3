/**
 * From driving coatcheck with third-party packages over HTTP: an express-session store under modern session() with
 * remember-me and revokeAllSessions, and loginThrottle mounted on the drop-in face.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import express from 'express'
import real from 'express-session'
import dropIn from '../../src/express-session/index.ts'
import { logIn, loginThrottle, rememberMe, requireAuth, revokeAllSessions, session } from '../../src/index.ts'
import { Browser, listen, type Running } from '../support/http.ts'

const SECRET = 'an-ecosystem-review-secret-of-32-chars-or-more'

describe('third-party pieces: what coatcheck cannot do with them fails clearly, and changes nothing', () => {
  const running: Running[] = []
  after(async () => {
    for (const r of running) await r.close()
  })
  const errors = (
    error: { status?: number; code?: string; message?: string },
    _req: unknown,
    res: express.Response,
    _next: unknown,
  ) => {
    res.status(error.status ?? 500).json({ code: error.code, message: error.message })
  }

  it('logIn({ remember: true }) on an express-session store fails before it logs anybody in (501, no cookie)', async () => {
    const store = new real.MemoryStore()
    const app = express()
    app.use(express.json())
    app.use(session({ secret: SECRET, store }))
    app.use(rememberMe())
    app.post('/login', async (req, res, next) => {
      try {
        await logIn(req, 'u1', { remember: req.body.remember === true })
        res.json({ ok: true })
      } catch (error) {
        next(error)
      }
    })
    app.get('/me', requireAuth(), (req, res) => res.json({ userId: req.session.userId }))
    app.use(errors)
    const server = await listen(app)
    running.push(server)
    const browser = new Browser(server.url)
    const refused = await browser.post('/login', { remember: true })
    assert.equal(refused.status, 501)
    assert.equal(JSON.parse(refused.body).code, 'STORE_UNSUPPORTED')
    assert.deepEqual(refused.setCookies, [], 'no session was stored for a login that failed')
    assert.equal((await browser.get('/me')).status, 401)
    assert.equal(Object.keys(store.sessions).length, 0)
    assert.equal((await browser.post('/login', { remember: false })).status, 200, 'without remember-me it works')
    assert.equal((await browser.get('/me')).status, 200)
  })

  it('revokeAllSessions takes the express-session store given to session(), adapting it as session() does', async () => {
    const store = new real.MemoryStore()
    const app = express()
    app.use(session({ secret: SECRET, store }))
    app.post('/login', async (req, res) => {
      await logIn(req, 'u-7')
      res.json({ ok: true })
    })
    app.get('/me', requireAuth(), (req, res) => res.json({ userId: req.session.userId }))
    const server = await listen(app)
    running.push(server)
    const phone = new Browser(server.url)
    const laptop = new Browser(server.url)
    for (const browser of [phone, laptop]) assert.equal((await browser.post('/login')).status, 200)
    assert.equal(await revokeAllSessions(store, 'u-7'), 2)
    assert.equal((await phone.get('/me')).status, 401)
    assert.equal((await laptop.get('/me')).status, 401)
  })

  it('revokeAllSessions on a callback store waits for a commit in flight on it: the revoked session stays revoked', async () => {
    // A callback store whose read is taken at once but answers later (a network store), once armed.
    const sessions = new Map<string, string>()
    let armed: (() => void) | undefined
    const store = {
      get(sid: string, callback: (error?: unknown, session?: unknown) => void) {
        const text = sessions.get(sid)
        const answer = () => callback(undefined, text === undefined ? null : JSON.parse(text))
        const onRead = armed
        armed = undefined
        if (onRead === undefined) return answer()
        onRead()
        setTimeout(answer, 100)
      },
      set(sid: string, session: object, callback: (error?: unknown) => void) {
        sessions.set(sid, JSON.stringify(session))
        callback()
      },
      destroy(sid: string, callback: (error?: unknown) => void) {
        sessions.delete(sid)
        callback()
      },
      all(callback: (error: unknown, all?: unknown) => void) {
        callback(null, Object.fromEntries([...sessions].map(([sid, text]) => [sid, JSON.parse(text)])))
      },
    }
    const app = express()
    app.use(session({ secret: SECRET, store }))
    app.post('/login', async (req, res) => {
      await logIn(req, 'u-8')
      res.json({ ok: true })
    })
    let revoked: Promise<number> | undefined
    app.post('/change', (req, res) => {
      req.session.n = 1 // committed as an update: read, merge, write
      armed = () => {
        revoked = revokeAllSessions(store, 'u-8') // lands between the commit's read and its write
      }
      res.json({ ok: true })
    })
    app.get('/me', requireAuth(), (req, res) => res.json({ userId: req.session.userId }))
    const server = await listen(app)
    running.push(server)
    const browser = new Browser(server.url)
    assert.equal((await browser.post('/login')).status, 200)
    await browser.post('/change')
    assert.ok(revoked, 'the revocation ran while the commit was reading')
    assert.equal(await revoked, 1)
    assert.equal(sessions.size, 0, 'the commit did not write the revoked session back')
    assert.equal((await browser.get('/me')).status, 401)
  })

  it('loginThrottle on the drop-in face says it needs modern session(), not that no session middleware ran', async () => {
    const app = express()
    app.use(express.json())
    app.use(dropIn({ secret: SECRET, resave: false, saveUninitialized: false }))
    app.post('/login', loginThrottle({ account: (req) => (req as express.Request).body?.email }), (_req, res) => {
      res.json({ ok: true })
    })
    app.use(errors)
    const server = await listen(app)
    running.push(server)
    const reply = await new Browser(server.url).post('/login', { email: 'a@example.com' })
    assert.equal(reply.status, 500)
    const { code, message } = JSON.parse(reply.body)
    assert.equal(code, 'NO_SESSION_MIDDLEWARE')
    assert.match(message, /needs modern session\(\) from 'coatcheck'; the drop-in face .* has no .*loginThrottle/)
  })

  it('behind the real express-session the message does not blame the drop-in face (it never ran)', async () => {
    const app = express()
    app.use(real({ secret: SECRET, resave: false, saveUninitialized: false }))
    app.post('/login', async (req, res, next) => {
      try {
        await logIn(req, 'u1')
        res.json({ ok: true })
      } catch (error) {
        next(error)
      }
    })
    app.use(errors)
    const server = await listen(app)
    running.push(server)
    const { code, message } = JSON.parse((await new Browser(server.url).post('/login')).body)
    assert.equal(code, 'NO_SESSION_MIDDLEWARE')
    assert.equal(message, 'coatcheck: the session() middleware must run before this')
  })
})
