// Drop-in face only, without @types/express-session (tsconfig `"types": []`, nothing imports 'express-session'):
// `req.session` is typed by coatcheck/express-session alone. Compiled by test/package.test.ts against the built package.

import session, { type Cookie, MemoryStore, type SessionData } from 'coatcheck/express-session'
import express from 'express'

declare module 'coatcheck/express-session' {
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

app.get('/', async (req, res) => {
  req.session.views = (req.session.views ?? 0) + 1
  const userId: string | undefined = req.session.userId
  const cookie: Cookie = req.session.cookie
  const maxAge: number | null = cookie.maxAge
  const originalMaxAge: number | null = req.session.cookie.originalMaxAge
  const expires: Date | null | undefined = req.session.cookie.expires
  const id: string = req.session.id
  const sid: string = req.sessionID
  req.sessionStore.destroy('other', (err) => void err)
  req.sessionStore.all?.((err, sessions) => void [err, sessions])
  req.session.touch().resetMaxAge().cookie.maxAge = 60_000
  const chained: typeof req.session = req.session.reload(() => {})
  await req.session.save()
  await req.session.reload()
  const data: Partial<SessionData> = req.session
  // @ts-expect-error: not declared in SessionData
  req.session.nope = 1
  // @ts-expect-error: views is a number
  req.session.views = 'many'
  // @ts-expect-error: the ID is read-only
  req.session.id = 'forged'
  // @ts-expect-error: without a callback, regenerate() returns a promise, not the session
  req.session.regenerate().cookie
  // @ts-expect-error: maxAge is a number of ms or null
  req.session.cookie.maxAge = '1h'
  // @ts-expect-error: a session cookie has no such attribute
  req.session.cookie.maxage = 1
  res.json({ userId, maxAge, originalMaxAge, expires, id, sid, chained: chained === req.session, data })
})

app.post('/logout', async (req, res) => {
  await req.session.destroy()
  res.redirect('/')
})
