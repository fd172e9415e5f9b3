// Migrating to modern mode: `upgradeSessions` comes from coatcheck/express-session, `session` from coatcheck. Both
// faces are in the program and `req.session` is modern mode's. Compiled by test/package.test.ts against the built package.

import { session } from 'coatcheck'
import { MemoryStore, upgradeSessions } from 'coatcheck/express-session'
import { sqliteStore } from 'coatcheck/sqlite'
import express from 'express'

declare module 'coatcheck' {
  interface SessionData {
    cart: string[]
  }
}

const options = { secret: 'x'.repeat(32), store: sqliteStore({ path: ':memory:' }) }
const app = express()
app.use(upgradeSessions({ session: options, store: new MemoryStore(), secret: 'keyboard cat' }))
app.use(session(options))
app.get('/', async (req, res) => {
  const userId: string | null = req.session.userId
  req.session.cart = [...(req.session.cart ?? []), 'apple']
  await req.session.regenerate({ keep: true })
  // @ts-expect-error: modern mode's session has no express-session cookie
  req.session.cookie
  res.json({ userId })
})
