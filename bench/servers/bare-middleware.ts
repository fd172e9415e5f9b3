import express from 'express'
import { serve, USER } from './serve.ts'

// A reference point, not an anchor: bare Express plus one middleware that does nothing, the floor any session
// middleware pays for being a layer in Express's router.
const app = express()
app.use((_req, _res, next) => next())
app.get('/me', (_req, res) => {
  res.json({ user: USER })
})
await serve(app)
