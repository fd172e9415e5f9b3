import express from 'express'
import { memoryStore, session } from '../../src/index.ts'
import { authRoutes, serve } from './serve.ts'

const app = express()
app.use(session({ secret: 'bench-secret-bench-secret-bench-secret', store: memoryStore() }))
authRoutes(app)
await serve(app)
