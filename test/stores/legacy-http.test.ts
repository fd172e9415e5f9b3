import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import express from 'express'
import dropIn, { type Session } from '../../src/express-session/index.ts'
import { logIn, logOut, revokeAllSessions, session } from '../../src/index.ts'
import { legacyStore } from '../../src/stores/legacy/adapter.ts'
import { Browser, listen } from '../support/http.ts'
import { synchronousStore } from './legacy/stores.ts'

const SECRET = 'a-secret-of-at-least-thirty-two-characters'

// Stores whose callbacks run before `get`/`set`/`destroy` return (issue 10, point 5), through both faces over HTTP.
describe('a synchronous callback store', () => {
  it('works through modern session(): data, login, revocation by user, logout', async () => {
    const store = synchronousStore()
    const app = express()
    app.use(express.json())
    app.use(session({ secret: SECRET, store }))
    app.post('/data', (req, res) => {
      Object.assign(req.session, req.body)
      res.json({ ok: true })
    })
    app.get('/data', (req, res) => {
      res.json({ userId: req.session.userId, data: { ...req.session } })
    })
    app.post('/login', async (req, res) => {
      await logIn(req, 'ada')
      res.json({ ok: true })
    })
    app.post('/logout', async (req, res) => {
      await logOut(req, res)
      res.json({ ok: true })
    })
    const running = await listen(app)
    try {
      const browser = new Browser(running.url)
      assert.equal((await browser.post('/data', { cart: [1] })).status, 200)
      assert.deepEqual(JSON.parse((await browser.get('/data')).body), { userId: null, data: { cart: [1] } })
      assert.equal((await browser.post('/login')).status, 200)
      assert.equal(JSON.parse((await browser.get('/data')).body).userId, 'ada')
      const other = new Browser(running.url)
      assert.equal((await other.post('/login')).status, 200)
      assert.equal(await revokeAllSessions(legacyStore(store), 'ada'), 2)
      assert.equal(JSON.parse((await browser.get('/data')).body).userId, null)
      assert.equal((await other.post('/login')).status, 200)
      assert.equal((await other.post('/logout')).status, 200)
      assert.equal(store.sessions.size, 0)
    } finally {
      await running.close()
    }
  })

  it('works through the drop-in face: save, regenerate, destroy', async () => {
    const store = synchronousStore()
    const app = express()
    app.use(express.json())
    app.use(dropIn({ secret: SECRET, store, resave: false, saveUninitialized: false }))
    const sess = (req: express.Request) => req.session as unknown as Session
    app.post('/data', (req, res) => {
      Object.assign(sess(req), req.body)
      res.json({ ok: true })
    })
    app.get('/data', (req, res) => {
      const { cookie: _cookie, ...data } = sess(req)
      res.json(data)
    })
    app.post('/regenerate', (req, res, next) => {
      sess(req).regenerate((error?: unknown) => {
        if (error) return next(error)
        ;(sess(req) as unknown as Record<string, unknown>).fresh = true
        res.json({ ok: true })
      })
    })
    app.post('/destroy', (req, res, next) => {
      sess(req).destroy((error?: unknown) => (error ? next(error) : res.json({ ok: true })))
    })
    const running = await listen(app)
    try {
      const browser = new Browser(running.url)
      assert.equal((await browser.post('/data', { a: 1 })).status, 200)
      assert.deepEqual(JSON.parse((await browser.get('/data')).body), { a: 1 })
      assert.equal((await browser.post('/regenerate')).status, 200)
      assert.deepEqual(JSON.parse((await browser.get('/data')).body), { fresh: true })
      assert.equal(store.sessions.size, 1)
      assert.equal((await browser.post('/destroy')).status, 200)
      assert.equal(store.sessions.size, 0)
    } finally {
      await running.close()
    }
  })
})
