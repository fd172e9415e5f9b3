import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import express from 'express'
import real from 'express-session'
import { upgradeSessions } from '../../src/express-session/index.ts'
import { CoatcheckError, memoryStore, session } from '../../src/index.ts'
import type { SessionOptions } from '../../src/session/options.ts'
import type { Running } from '../support/http.ts'
import { Client, SECRET, serve } from './support.ts'

const MODERN_SECRET = 'a-modern-secret-of-at-least-32-characters'

describe('upgradeSessions', () => {
  const running: Running[] = []
  after(async () => {
    for (const r of running) await r.close()
  })

  it('maps only a non-empty string or non-zero number to a user: 0 and "" meant nobody in old apps', async () => {
    const legacy = new real.MemoryStore()
    const old = express()
    old.use(express.json())
    old.use(real({ secret: SECRET, store: legacy, resave: false, saveUninitialized: false }))
    old.post('/set', (req, res) => {
      ;(req.session as unknown as Record<string, unknown>).userId = req.body.userId
      res.json({ ok: true })
    })
    const oldServer = await serve(old)
    running.push(oldServer)

    const options: SessionOptions = { secret: MODERN_SECRET, store: memoryStore() }
    const modern = express()
    modern.use(upgradeSessions({ session: options, store: legacy, secret: SECRET }))
    modern.use(session(options))
    modern.get('/me', (req, res) => res.json({ userId: req.session.userId }))
    const modernServer = await serve(modern)
    running.push(modernServer)

    const outcomes: unknown[] = []
    for (const userId of [0, '', null, 'u-1', 7]) {
      const browser = new Client(oldServer.url)
      await browser.request('/set', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId }),
      })
      browser.moveTo(modernServer.url)
      outcomes.push(JSON.parse((await browser.get('/me')).body).userId)
    }
    assert.deepEqual(outcomes, [null, null, null, 'u-1', '7'])
  })

  it('rejects an unknown option, naming the nearest one', () => {
    const options = { secret: MODERN_SECRET, store: memoryStore() }
    assert.throws(
      () => upgradeSessions({ session: options, store: new real.MemoryStore(), secret: SECRET, nmae: 'x' } as never),
      (error: unknown) =>
        error instanceof CoatcheckError && error.code === 'INVALID_OPTION' && /did you mean `name`/.test(error.message),
    )
  })
})
