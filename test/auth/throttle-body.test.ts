import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import { loginThrottle, memoryStore, type SessionEvent, session } from '../../src/index.ts'
import { listen, type Running, send } from '../support/http.ts'
import { SECRET } from './harness.ts'

describe('loginThrottle with `account: (req) => req.body.email` and no body parser for the request', () => {
  let server: Running
  const events: SessionEvent[] = []
  let reached = 0
  before(async () => {
    const app = express()
    app.set('env', 'test')
    app.use(express.urlencoded({ extended: false })) // the README's quick start: forms only
    app.use(session({ secret: SECRET, store: memoryStore(), onEvent: (e) => events.push(e) }))
    app.post(
      '/login',
      loginThrottle({ account: (req) => req.body.email, perIp: { max: 3, windowMs: 60_000 } }),
      (_req, res) => {
        reached++
        res.status(401).send('Invalid')
      },
    )
    server = await listen(app)
  })
  after(() => server.close())

  it('answers the handler’s 401, never a 500, and still limits the attempts per IP', async () => {
    const attempts: RequestInit[] = [
      {}, // no body at all: Express 5 leaves req.body undefined
      { headers: { 'content-type': 'application/json' }, body: '{"email":"a@example.com"}' }, // no JSON parser
      { headers: { 'content-type': 'text/plain' }, body: 'email=a@example.com' },
      {},
    ]
    const replies = []
    for (const init of attempts) replies.push(await send(`${server.url}/login`, { method: 'POST', ...init }))
    assert.deepEqual(
      replies.map((r) => r.status),
      [401, 401, 401, 429],
    )
    assert.deepEqual(
      replies.slice(0, 3).map((r) => r.body),
      ['Invalid', 'Invalid', 'Invalid'],
    )
    assert.equal(reached, 3)
    assert.deepEqual(
      events.filter((e) => e.type === 'throttled'),
      [{ type: 'throttled', limit: 'ip' }],
    )
  })
})
