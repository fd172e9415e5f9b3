import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import express from 'express'
import { logIn, loginThrottle, memoryStore, session } from '../../src/index.ts'
import { Browser, listen } from '../support/http.ts'
import { SECRET } from './harness.ts'

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
        account: (req) => (req as express.Request).body?.email,
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
})
