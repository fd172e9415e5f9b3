// The one-line swap in an app typed with @types/express-session: its `declare module 'express-session'` augmentation
// stays, and `req.session` keeps @types/express-session's type (the drop-in declarations step aside).
// Compiled by test/package.test.ts against the built package.

import session, { MemoryStore } from 'coatcheck/express-session' // was: from 'express-session'
import express from 'express'
import type { SessionData } from 'express-session'

declare module 'express-session' {
  interface SessionData {
    userId: string
    views: number
  }
}

const app = express()
app.use(session({ secret: 'keyboard cat', resave: false, saveUninitialized: false, store: new MemoryStore() }))

app.post('/login', (req, res, next) => {
  req.session.regenerate((err) => {
    if (err) return next(err)
    req.session.userId = 'u1'
    req.session.save((err) => (err ? next(err) : res.redirect('/')))
  })
})

app.get('/', (req, res) => {
  req.session.views = (req.session.views ?? 0) + 1
  const userId: string | undefined = req.session.userId
  // @types/express-session's Cookie (the drop-in's would be `number | null`)
  const maxAge: number | undefined = req.session.cookie.maxAge
  const id: string = req.session.id
  const sid: string = req.sessionID
  req.sessionStore.destroy('other', (err) => void err)
  const data: Partial<SessionData> = req.session
  // @ts-expect-error: not declared in SessionData
  req.session.nope = 1
  // @ts-expect-error: views is a number
  req.session.views = 'many'
  res.json({ userId, maxAge, id, sid, data })
})

app.post('/logout', (req, res, next) => {
  req.session.destroy((err) => (err ? next(err) : res.redirect('/')))
})
