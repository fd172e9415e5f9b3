import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import passport from 'passport'
import { Strategy as LocalStrategy } from 'passport-local'
import { listSessions, logIn, memoryStore, requireAuth, session } from '../../src/index.ts'
import { Browser, listen, type Running } from '../support/http.ts'

const SECRET = 'passport-test-secret-of-32-characters-or-more'
const USERS = new Map([['ada', { id: 'u-ada', password: 'correct horse' }]])

// The documented bridge: passport ≥ 0.6 hands `serializeUser` the request when the callback takes three arguments,
// so it can log the user in with coatcheck too (new ID, indexed under the user) before passport writes its own key.
passport.serializeUser<string>(
  (req: express.Request, user: Express.User, done: (error: unknown, id?: string) => void) => {
    const { id } = user as { id: string }
    logIn(req, id).then(() => done(null, id), done)
  },
)
passport.deserializeUser<string>((id, done) => done(null, { id }))
passport.use(
  new LocalStrategy((username, password, done) => {
    const user = USERS.get(username)
    done(null, user && user.password === password ? { id: user.id } : false)
  }),
)

function postLogin(browser: Browser, password: string) {
  return browser.request('/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: 'ada', password }).toString(),
  })
}

describe('passport 0.7 with modern session()', () => {
  let server: Running
  const store = memoryStore()
  before(async () => {
    const app = express()
    app.use(express.urlencoded({ extended: false }))
    app.use(session({ secret: SECRET, store }))
    app.use(passport.session())
    app.post('/login', passport.authenticate('local', { failureMessage: false }), (req, res) => {
      res.json({ passport: (req.user as { id: string }).id, coatcheck: req.session.userId })
    })
    app.get('/me', requireAuth(), (req, res) => res.json({ userId: req.session.userId, user: req.user }))
    app.get('/devices', requireAuth(), async (req, res) => res.json((await listSessions(req)).length))
    app.post('/logout', (req, res, next) => {
      req.logout((error) => (error ? next(error) : res.json({ ok: true })))
    })
    server = await listen(app)
  })
  after(async () => {
    await server.close()
    await store.close?.()
  })

  it('logs in through passport; requireAuth, listSessions and req.user all see the user; logout ends both', async () => {
    const browser = new Browser(server.url)
    const login = await postLogin(browser, 'correct horse')
    assert.equal(login.status, 200)
    assert.deepEqual(JSON.parse(login.body), { passport: 'u-ada', coatcheck: 'u-ada' })
    assert.deepEqual(JSON.parse((await browser.get('/me')).body), { userId: 'u-ada', user: { id: 'u-ada' } })
    assert.equal(JSON.parse((await browser.get('/devices')).body), 1)
    assert.deepEqual((await store.listByUser('u-ada')).length, 1)
    assert.equal((await browser.post('/logout')).status, 200)
    assert.equal((await browser.get('/me')).status, 401)
    assert.deepEqual(await store.listByUser('u-ada'), [])
  })

  it('a wrong password is a 401 and stores nothing', async () => {
    const browser = new Browser(server.url)
    const reply = await postLogin(browser, 'nope')
    assert.equal(reply.status, 401)
    assert.equal(browser.jar.size, 0)
  })
})
