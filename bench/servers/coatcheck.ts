import express, { type Request } from 'express'
import { memoryStore, session } from '../../src/index.ts'
import { PROFILE, serve, USER } from './serve.ts'

// Local typing only: augmenting `SessionData` would leak these fields into the project's tests.
const data = (req: Request) => req.session as unknown as Record<string, unknown>

const app = express()
app.use(session({ secret: 'bench-secret-bench-secret-bench-secret', store: memoryStore() }))
app.post('/login', (req, res) => {
  Object.assign(data(req), { user: USER, ...PROFILE })
  res.json({ ok: true })
})
app.get('/me', (req, res) => {
  const user = data(req).user
  if (user === undefined) res.status(401).json({ error: 'unauthenticated' })
  else res.json({ user })
})
await serve(app)
