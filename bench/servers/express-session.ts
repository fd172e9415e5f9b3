import express, { type Request } from 'express'
import session from 'express-session'
import { PROFILE, serve, USER } from './serve.ts'

// `req.session` is typed for coatcheck project-wide; in this server it is express-session's plain object.
const data = (req: Request) => req.session as unknown as Record<string, unknown>

const app = express()
app.use(
  session({
    secret: 'bench-secret-bench-secret-bench-secret',
    store: new session.MemoryStore(),
    resave: false,
    saveUninitialized: false,
  }),
)
app.post('/login', (req, res) => {
  Object.assign(data(req), { userId: USER, ...PROFILE })
  res.json({ ok: true })
})
app.get('/me', (req, res) => {
  const user = data(req).userId
  if (user === undefined) res.status(401).json({ error: 'unauthenticated' })
  else res.json({ user })
})
await serve(app)
