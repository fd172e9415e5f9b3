/**
 * `coatcheck/express-session`: the drop-in face. express-session 1.19's options, defaults, cookie format, store keys
 * and callback API on coatcheck's engine, so an app switches by changing its import line.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { holdResponse } from '../core/hold.ts'
import { DropInContext, type DropInRequest } from './context.ts'
import { Cookie } from './cookie.ts'
import { type ExpressSessionOptions, resolveDropInOptions } from './options.ts'
import { controllers, Session } from './session.ts'
import { MemoryStore, Store } from './store.ts'

/** A connect/Express-style middleware. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void

/**
 * express-session's middleware on coatcheck's engine. Takes express-session's options with its defaults (and
 * warnings). Unlike express-session, the session is stored before the first header or byte of the response leaves,
 * a store failure answers 503, and an existing session is saved as a patch of the top-level keys that changed.
 *
 * @example
 * ```ts
 * import session from 'coatcheck/express-session' // was: from 'express-session'
 * app.use(session({ secret: 'keyboard cat', resave: false, saveUninitialized: false, store }))
 * ```
 */
function session(options?: ExpressSessionOptions): Middleware {
  const o = resolveDropInOptions(options)
  return function session(incoming, res, next) {
    const req = incoming as DropInRequest & { originalUrl?: string }
    if (req.session) return next()
    const cookieOptions = o.cookie(req)
    if (!pathOf(req.originalUrl ?? req.url ?? '/').startsWith(cookieOptions.path || '/')) return next()
    const secrets = o.secrets ?? (req.secret ? [req.secret] : undefined)
    if (!secrets) return next(new Error('secret option required for sessions'))
    const context = new DropInContext(o, req, secrets, cookieOptions)
    controllers.set(req, context)
    const ready = () => {
      holdResponse(res, context)
      next()
    }
    const loading = context.load()
    if (loading === undefined) ready()
    else loading.then(ready, next)
  }
}

/** The path of a request target (origin-form or absolute-form), as parseurl reads it. */
function pathOf(url: string): string {
  let path = url
  if (!path.startsWith('/')) {
    try {
      path = new URL(url).pathname
    } catch {
      return '/'
    }
  }
  const end = path.search(/[?#]/)
  return (end === -1 ? path : path.slice(0, end)) || '/'
}

session.Store = Store
session.MemoryStore = MemoryStore
session.Cookie = Cookie
session.Session = Session

export default session
export { type CsrfOptions, csrf } from '../csrf/index.ts'
export { type LegacySession, type LegacyStore, legacyStore } from '../stores/legacy/adapter.ts'
export { Cookie, type CookieOptions } from './cookie.ts'
export type { ExpressSessionOptions } from './options.ts'
export { type Callback, Session } from './session.ts'
export { MemoryStore, Store } from './store.ts'
export type { SessionData } from './types.ts'
export { type UpgradeOptions, upgradeSessions } from './upgrade.ts'
export { session as 'module.exports' }
