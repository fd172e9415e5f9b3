import express, { type Express } from 'express'
import { type OnEvent, session } from '../../../src/index.ts'
import type { CoatcheckStore } from '../../../src/stores/types.ts'

/** An Express 5 app on `store`: GET /session shows the data, POST /session merges the JSON body in, GET /ping. */
export function sessionApp(store: CoatcheckStore, onEvent?: OnEvent): Express {
  const app = express()
  app.set('env', 'test') // keeps Express's error handler from printing the expected store failures
  app.use(express.json({ limit: '1mb' }))
  app.use(session({ secret: 'x'.repeat(32), store, onEvent }))
  app.get('/session', (req, res) => {
    res.json({ ...req.session })
  })
  app.post('/session', (req, res) => {
    Object.assign(req.session, req.body)
    res.json({ ok: true })
  })
  app.get('/ping', (_req, res) => {
    res.send('pong')
  })
  return app
}
