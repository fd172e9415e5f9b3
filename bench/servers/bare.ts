import express from 'express'
import { serve, USER } from './serve.ts'

// The anchor: the same route and answer with no session at all.
const app = express()
app.get('/me', (_req, res) => {
  res.json({ user: USER })
})
await serve(app)
