import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import express from 'express'
import session from '../../src/express-session/index.ts'
import { listen } from '../support/http.ts'

describe('req.session.cookie on later requests', () => {
  it('originalMaxAge stays the configured maxAge with a store that keeps JSON text (a fresh parsed copy per get)', async () => {
    const data = new Map<string, string>()
    const store = Object.assign(new session.Store(), {
      get(sid: string, cb: (e: unknown, s?: unknown) => void) {
        const text = data.get(sid)
        cb(null, text ? JSON.parse(text) : null)
      },
      set(sid: string, s: unknown, cb: (e?: unknown) => void) {
        data.set(sid, JSON.stringify(s))
        cb()
      },
      destroy(sid: string, cb: (e?: unknown) => void) {
        data.delete(sid)
        cb()
      },
    })
    const app = express()
    app.use(
      session({ secret: 'keyboard cat', resave: false, saveUninitialized: false, store, cookie: { maxAge: 60_000 } }),
    )
    app.get('/', (req, res) => {
      const s = req.session as unknown as { views?: number; cookie: { originalMaxAge: number; maxAge: number } }
      s.views = (s.views ?? 0) + 1
      res.json({ originalMaxAge: s.cookie.originalMaxAge, maxAge: s.cookie.maxAge })
    })
    const server = await listen(app)
    try {
      const began = Date.now()
      const first = await fetch(server.url)
      const cookie = first.headers.get('set-cookie')!.split(';')[0]!
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 30))
        const reply = await fetch(server.url, { headers: { cookie } })
        const { originalMaxAge, maxAge } = (await reply.json()) as { originalMaxAge: number; maxAge: number }
        assert.equal(originalMaxAge, 60_000)
        // Counts down from the first response's expiry (whole seconds in the cookie, so up to 1 s of rounding).
        assert.ok(maxAge <= 60_000 && maxAge >= 60_000 - (Date.now() - began) - 1_000, String(maxAge))
      }
      assert.equal(JSON.parse([...data.values()][0]!).cookie.originalMaxAge, 60_000)
    } finally {
      await server.close()
    }
  })
})
