import express from 'express'
import {
  hashPassword,
  type LoginThrottleOptions,
  listSessions,
  logIn,
  loginThrottle,
  logOut,
  rememberMe,
  requireAuth,
  requireFresh,
  revokeOtherSessions,
  revokeSession,
  type SessionOptions,
  session,
  verifyPassword,
} from '../../src/index.ts'
import type { CoatcheckStore } from '../../src/stores/types.ts'
import { Clock, Instrumented } from '../support/faults.ts'
import { Browser, listen, type Running } from '../support/http.ts'

export const SECRET = 'auth-test-secret-that-is-32-chars-or-more'
export const USERS = [
  { id: 'u-ada', email: 'ada@example.com', password: 'correct horse battery staple' },
  { id: 'u-bob', email: 'bob@example.com', password: 'hunter2hunter2' },
]

export interface AuthApp extends Running {
  store: CoatcheckStore
  spy: Instrumented
  clock: Clock
  browser(userAgent?: string): Browser
}

let hashes: Map<string, string> | undefined

/**
 * A small app in the shape of the README's: POST /login (throttled), POST /logout, GET /me, the device routes, a
 * cart anonymous users can fill, and a "sensitive" route behind requireFresh(10 min).
 */
export async function startAuthApp(
  store: CoatcheckStore,
  options: { session?: Partial<SessionOptions>; throttle?: LoginThrottleOptions } = {},
): Promise<AuthApp> {
  hashes ??= new Map(await Promise.all(USERS.map(async (u) => [u.email, await hashPassword(u.password)] as const)))
  const clock = new Clock(Date.now())
  const spy = new Instrumented(store)
  const app = express()
  app.set('env', 'test')
  app.use(express.json())
  app.use(session({ secret: SECRET, store: spy.store, now: clock.now, ...options.session }))
  app.use(rememberMe())
  app.post(
    '/login',
    loginThrottle({ account: (req) => (req as express.Request).body?.email, ...options.throttle }),
    async (req, res) => {
      const user = USERS.find((u) => u.email === req.body.email)
      const { ok } = await verifyPassword(user && hashes!.get(user.email), String(req.body.password ?? ''))
      if (!user || !ok) return res.status(401).json({ error: 'Invalid credentials' })
      await logIn(req, user.id, { keep: req.body.keep !== false, remember: req.body.remember === true })
      res.json({ userId: user.id })
    },
  )
  app.post('/logout', async (req, res) => {
    await logOut(req, res, { everywhere: req.query.everywhere === '1' })
    res.json({ ok: true })
  })
  app.get('/me', requireAuth(), (req, res) => {
    res.json({ userId: req.session.userId, cart: req.session.cart ?? [] })
  })
  app.get('/page', requireAuth({ redirectTo: '/login' }), (_req, res) => {
    res.send('secret page')
  })
  app.post('/cart/:item', (req, res) => {
    req.session.cart = [...((req.session.cart as string[] | undefined) ?? []), req.params.item]
    res.json({ cart: req.session.cart })
  })
  app.get('/account/sessions', requireAuth(), async (req, res) => {
    res.json(await listSessions(req))
  })
  app.post('/account/sessions/:handle/revoke', requireAuth(), async (req, res) => {
    res.json({ revoked: await revokeSession(req, req.params.handle as string) })
  })
  app.post('/account/revoke-others', requireAuth(), async (req, res) => {
    res.json({ revoked: await revokeOtherSessions(req) })
  })
  app.post('/account/sensitive', requireAuth(), requireFresh(10 * 60_000), (_req, res) => {
    res.json({ ok: true })
  })
  const running = await listen(app)
  return {
    ...running,
    store,
    spy,
    clock,
    browser: (userAgent?: string) => {
      const browser = new Browser(running.url)
      if (userAgent) browser.headers['user-agent'] = userAgent
      return browser
    },
    close: async () => {
      await running.close()
      await store.close?.()
    },
  }
}

/** Logs `browser` in as one of USERS. */
export function login(browser: Browser, email: string, password: string, extra: Record<string, unknown> = {}) {
  return browser.post('/login', { email, password, ...extra })
}
