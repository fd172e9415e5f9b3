import express from 'express'
import session from 'express-session'
import { authRoutes, serve } from './serve.ts'

const app = express()
app.use(
  session({
    secret: 'bench-secret-bench-secret-bench-secret',
    store: new session.MemoryStore(),
    resave: false,
    saveUninitialized: false,
  }),
)
authRoutes(app)
await serve(app)
