/**
 * The reference app as an Express application, from its parts: a store, the users beside it, and the settings.
 * `server.ts` builds these from the environment; tests may build them any way they like.
 */
import { fileURLToPath } from 'node:url'
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express'
import { type CoatcheckStore, csrf, logOut, rememberMe, type SessionEvent, session } from '../../src/index.ts'
import { apiRoutes } from './api.ts'
import { errorPage, homePage, notFoundPage } from './pages/home.ts'
import { sendPage, type Visitor, visitorOf } from './pages/layout.ts'
import { accountRoutes } from './routes/account.ts'
import { authRoutes } from './routes/auth.ts'
import type { Users } from './users.ts'

declare module '../../src/session/types.ts' {
  interface SessionData {
    /** A one-time message for the next page ("Signed out"), carried across the 303. */
    flash: string
  }
}

export interface AppOptions {
  store: CoatcheckStore
  users: Users
  /** The session secrets: the first signs, all verify. */
  secret: string[]
  production: boolean
  trustProxy: boolean | number
  /** ms. Default 24 h. */
  idleTimeout?: number
  /** ms. Default 7 days. */
  absoluteTimeout?: number
  /** Where security events (CSRF refusals, throttling, remember-me theft, store errors) are reported. */
  log?: (line: string) => void
}

const STYLE = fileURLToPath(new URL('./style.css', import.meta.url))
const HOUR = 3_600_000

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.set({
    'Content-Security-Policy':
      "default-src 'none'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; " +
      "frame-ancestors 'none'; base-uri 'none'",
    'Referrer-Policy': 'same-origin',
    'X-Content-Type-Options': 'nosniff',
  })
  next()
}

/** An anonymous visitor, for the error page of a request whose session could not be loaded. */
const nobody = (path: string): Visitor => ({ user: undefined, csrfToken: () => '', takeFlash: () => undefined, path })

/** Who is looking: the signed-in user (a session whose user is gone is signed out), the flash, the CSRF token. */
function visitors(users: Users): RequestHandler {
  return async (req, res, next) => {
    const userId = req.session.userId
    const user = userId === null ? undefined : await users.byId(userId)
    if (userId !== null && !user) await logOut(req, res)
    const visitor: Visitor = {
      user,
      csrfToken: () => req.csrfToken(),
      takeFlash() {
        const flash = req.session.flash
        if (flash !== undefined) delete req.session.flash
        return flash
      },
      path: req.path,
    }
    res.locals.visitor = visitor
    next()
  }
}

function reporter(log: (line: string) => void) {
  const reported = new Set(['csrf-rejected', 'throttled', 'remember-theft', 'store-error'])
  return (event: SessionEvent) => {
    if (!reported.has(event.type)) return
    const detail = [event.reason, event.limit, event.error && String(event.error)].filter(Boolean).join(' ')
    log(`coatcheck: ${event.type}${detail ? ` (${detail})` : ''}`)
  }
}

export function createApp(o: AppOptions): Express {
  const idleTimeout = o.idleTimeout ?? 24 * HOUR
  const absoluteTimeout = o.absoluteTimeout ?? 7 * 24 * HOUR
  const log = o.log ?? ((line) => console.warn(line))
  const app = express()
  app.set('env', o.production ? 'production' : 'development')
  app.set('trust proxy', o.trustProxy)
  app.disable('x-powered-by')
  app.use(securityHeaders)
  app.get('/style.css', (_req, res) => res.sendFile(STYLE, { maxAge: HOUR }))

  // Body parsers before csrf(): it reads the `_csrf` field of a form.
  app.use(express.urlencoded({ extended: false, limit: '16kb' }))
  app.use('/api', express.json({ limit: '16kb' }))
  app.use(
    session({
      secret: o.secret,
      store: o.store,
      trustProxy: o.trustProxy,
      idleTimeout,
      absoluteTimeout,
      onEvent: reporter(log),
    }),
  )
  app.use(rememberMe())
  // Before csrf(), so that its 403 page shows who is signed in (req.csrfToken is only called when a page renders).
  app.use(visitors(o.users))
  // A refused request goes to the error handler below: the app's own 403 page (or JSON under /api).
  app.use(
    csrf({ onRejected: (_req, _res, next) => next(Object.assign(new Error('CSRF check failed'), { status: 403 })) }),
  )

  app.use('/api', apiRoutes(o.users))
  app.get('/', (_req, res) => sendPage(res, 200, homePage(visitorOf(res))))
  app.use(authRoutes(o.users))
  app.use(accountRoutes(o.users))
  app.use((_req, res) => sendPage(res, 404, notFoundPage(visitorOf(res))))

  const failed: ErrorRequestHandler = (error, req, res, _next) => {
    const given = (error as { status?: unknown })?.status
    const status = typeof given === 'number' && given >= 400 && given < 600 ? given : 500
    if (status >= 500) log(`request failed: ${req.method} ${req.path}: ${(error as Error)?.stack ?? error}`)
    if (res.headersSent) return
    if (req.path.startsWith('/api/')) {
      const message =
        status === 503
          ? 'Service unavailable'
          : status >= 500
            ? 'Internal error'
            : status === 403
              ? 'Forbidden'
              : 'Bad request'
      res.status(status).set('Cache-Control', 'no-store').json({ error: message })
      return
    }
    const visitor = (res.locals.visitor as Visitor | undefined) ?? nobody(req.path)
    sendPage(res, status, errorPage(visitor, status))
  }
  app.use(failed)
  return app
}
