// The README's quick start, verbatim between the markers: compiled under `strict` against the built package and
// driven over HTTP by test/package.test.ts. Keep it and the README in step.
// quickstart:start

import {
  csrf,
  hashPassword,
  logIn,
  loginThrottle,
  logOut,
  rememberMe,
  requireAuth,
  session,
  verifyPassword,
} from 'coatcheck'
import { sqliteStore } from 'coatcheck/sqlite'
import express from 'express'

declare module 'coatcheck' {
  interface SessionData {
    cart: string[]
  }
}

// Your user table; here, one user in memory.
const users = new Map([['ada@example.com', { id: 'u1', passwordHash: await hashPassword('correct horse battery') }]])

const app = express()
app.use(express.urlencoded({ extended: false }))
app.use(session({ secret: process.env.SESSION_SECRET!, store: sqliteStore({ path: 'data/sessions.db' }) }))
app.use(rememberMe())
app.use(csrf())

app.get('/login', (req, res) => {
  res.send(`<form method="post">
    <input type="hidden" name="_csrf" value="${req.csrfToken()}">
    <input name="email" type="email"> <input name="password" type="password">
    <label><input name="remember" type="checkbox"> Remember me</label> <button>Sign in</button>
  </form>`)
})

app.post('/login', loginThrottle({ account: (req) => req.body?.email }), async (req, res) => {
  const { email, password, remember } = req.body ?? {} // no body at all: a post that is not a form
  const user = typeof email === 'string' ? users.get(email) : undefined
  const { ok } = await verifyPassword(user?.passwordHash, password) // same cost for unknown users
  if (!user || !ok) return res.status(401).send('Invalid email or password')
  await logIn(req, user.id, { remember: remember === 'on' }) // new session ID, stored before this resolves
  res.redirect(303, '/me') // carries the new cookie
})

app.get('/me', requireAuth({ redirectTo: '/login' }), (req, res) => {
  res.send(`Signed in as ${req.session.userId}, ${req.session.cart?.length ?? 0} items in your cart`)
})

app.post('/cart/:item', requireAuth(), (req, res) => {
  req.session.cart = [...(req.session.cart ?? []), req.params.item]
  res.redirect(303, '/me') // the session is stored before this 303 leaves
})

app.post('/logout', async (req, res) => {
  await logOut(req, res)
  res.redirect(303, '/login')
})

const port = Number(process.env.PORT ?? 3000)
app.listen(port, '127.0.0.1', () => console.log(`http://127.0.0.1:${port}/login`))
// quickstart:end
