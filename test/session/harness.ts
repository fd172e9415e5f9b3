import express, { type Express } from 'express'
import { hashedKey } from '../../src/core/token.ts'
import { memoryStore } from '../../src/index.ts'
import { session } from '../../src/session/middleware.ts'
import type { SessionOptions } from '../../src/session/options.ts'
import type { CoatcheckStore } from '../../src/stores/types.ts'
import { Clock, Instrumented } from '../support/faults.ts'
import { Browser, listen, type Running } from '../support/http.ts'

declare module '../../src/session/types.ts' {
  interface SessionData {
    [key: string]: unknown
  }
}

export const SECRET = 'test-secret-that-is-at-least-32-chars-long'

export interface Harness extends Running {
  /** The real memory store behind the instrumented one. */
  inner: CoatcheckStore
  spy: Instrumented
  clock: Clock
  browser(): Browser
}

/**
 * An Express 5 app with the session middleware on an instrumented memory store, a controllable clock and routes
 * that expose the session: GET/POST /session, DELETE /session/:key, POST /regenerate, POST /destroy, GET /ping.
 */
export async function startApp(
  options: Partial<SessionOptions> = {},
  routes?: (app: Express) => void,
): Promise<Harness> {
  const clock = new Clock(Date.now())
  // The store keeps the wall clock, so records the engine judges expired by the test clock still reach it.
  const inner = memoryStore()
  const spy = new Instrumented(inner)
  const app = express()
  app.set('env', 'test') // keeps Express's error handler from printing the injected failures
  app.use(express.json())
  app.use(session({ secret: SECRET, store: spy.store, now: clock.now, ...options }))
  routes?.(app)
  app.get('/session', (req, res) => {
    res.json({ id: req.session.id, userId: req.session.userId, data: { ...req.session } })
  })
  app.post('/session', (req, res) => {
    Object.assign(req.session, req.body)
    res.json({ ok: true })
  })
  app.delete('/session/:key', (req, res) => {
    delete req.session[req.params.key as string]
    res.json({ ok: true })
  })
  app.post('/cart/:item', (req, res) => {
    ;(req.session.cart as string[]).push(req.params.item as string)
    res.json({ ok: true })
  })
  app.post('/regenerate', async (req, res) => {
    await req.session.regenerate({ keep: req.query.keep === '1' })
    res.json({ id: req.session.id })
  })
  app.post('/destroy', async (req, res) => {
    await req.session.destroy()
    res.json({ ok: true })
  })
  app.get('/ping', (_req, res) => {
    res.send('pong')
  })
  const running = await listen(app)
  return {
    ...running,
    inner,
    spy,
    clock,
    browser: () => new Browser(running.url),
    close: async () => {
      await running.close()
      await inner.close?.()
    },
  }
}

/** The token inside a browser's session cookie. */
export function tokenOf(browser: Browser, name = 'sid'): string {
  const raw = browser.jar.get(name)
  if (raw === undefined) throw new Error(`no ${name} cookie`)
  const value = decodeURIComponent(raw)
  return value.slice(2, value.lastIndexOf('.'))
}

/** The store key of a browser's session. */
export function keyOf(browser: Browser, name = 'sid'): string {
  return hashedKey(tokenOf(browser, name))
}
