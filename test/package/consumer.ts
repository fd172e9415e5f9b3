// Compiled by test/package.test.ts against the built package, as an app would see it (not part of the main tsconfig).

import { requireAuth, session } from 'coatcheck'
import { sqliteStore } from 'coatcheck/sqlite'
import express from 'express'

declare module 'coatcheck' {
  interface SessionData {
    cart: string[]
  }
}

const app = express()
app.use(session({ secret: 'x'.repeat(32), store: sqliteStore({ path: ':memory:' }) }))
app.get('/', requireAuth(), (req, res) => {
  const cart: string[] | undefined = req.session.cart
  req.session.cart = [...(cart ?? []), 'apple']
  // @ts-expect-error: not declared in SessionData
  req.session.nope = 1
  // @ts-expect-error: reserved and read-only
  req.session.userId = 'u1'
  res.json({ id: req.session.id, userId: req.session.userId })
})
