import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import { logIn, logOut, requireAuth, revokeAllSessions, revokeOtherSessions, session } from '../../src/index.ts'
import type { CoatcheckStore } from '../../src/stores/types.ts'
import { Gate } from '../support/gate.ts'
import { Browser, listen, type Running } from '../support/http.ts'

const SECRET = 'race-test-secret-that-is-32-chars-or-more'

/**
 * Revocation must stick against requests already in flight: a request that loaded its session before the user was
 * logged out everywhere (or revoked by an admin) must end anonymous, whatever it does with the session afterwards.
 */
export function revocationRaces(name: string, open: () => Promise<CoatcheckStore>): void {
  describe(`revocation races on ${name}`, () => {
    let store: CoatcheckStore
    let server: Running
    let gate: Gate
    before(async () => {
      store = await open()
      const app = express()
      app.set('env', 'test')
      app.use(express.json())
      app.use(session({ secret: SECRET, store }))
      app.post('/login/:id', async (req, res) => {
        await logIn(req, req.params.id)
        res.json({ ok: true })
      })
      app.post('/logout-everywhere', async (req, res) => {
        await logOut(req, res, { everywhere: true })
        res.json({ ok: true })
      })
      app.post('/slow/regenerate', async (req, res) => {
        await gate.wait()
        await req.session.regenerate({ keep: true })
        res.json({ userId: req.session.userId })
      })
      app.post('/slow/revoke-others', async (req, res) => {
        await gate.wait()
        await revokeOtherSessions(req)
        res.json({ userId: req.session.userId })
      })
      app.post('/save-then-login/:id', async (req, res) => {
        req.session.note = 'before'
        req.session.save() // not awaited: the login must still win
        await logIn(req, req.params.id)
        res.json({ userId: req.session.userId })
      })
      app.get('/me', requireAuth(), (req, res) => res.json({ userId: req.session.userId }))
      server = await listen(app)
    })
    after(async () => {
      await server.close()
      await store.close?.()
    })

    async function loggedIn(userId: string): Promise<Browser> {
      const browser = new Browser(server.url)
      assert.equal((await browser.post(`/login/${userId}`)).status, 200)
      return browser
    }

    for (const [route, revoke] of [
      ['/slow/regenerate', 'logOut everywhere'],
      ['/slow/revoke-others', 'logOut everywhere'],
      ['/slow/regenerate', 'revokeAllSessions'],
      ['/slow/revoke-others', 'revokeAllSessions'],
    ] as const) {
      it(`a slow ${route.slice(6)} request does not re-create a login ended by ${revoke}`, async () => {
        const userId = `race-${route.slice(6)}-${revoke.length}`
        gate = new Gate()
        const a = await loggedIn(userId)
        const b = await loggedIn(userId)
        const slow = b.post(route)
        await gate.until(1)
        if (revoke === 'revokeAllSessions') await revokeAllSessions(store, userId)
        else assert.equal((await a.post('/logout-everywhere')).status, 200)
        gate.open()
        const reply = await slow
        assert.equal(reply.status, 200)
        assert.deepEqual(JSON.parse(reply.body), { userId: null }, 'the in-flight request ends anonymous')
        assert.equal((await b.get('/me')).status, 401)
        assert.deepEqual(await store.listByUser(userId), [], 'nothing of the user survives the revocation')
      })
    }

    it('logIn after an unawaited save() logs the user in', async () => {
      const browser = new Browser(server.url)
      const reply = await browser.post('/save-then-login/saver')
      assert.deepEqual(JSON.parse(reply.body), { userId: 'saver' })
      assert.deepEqual(JSON.parse((await browser.get('/me')).body), { userId: 'saver' })
    })
  })
}
