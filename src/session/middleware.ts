import type { IncomingMessage, ServerResponse } from 'node:http'
import { holdResponse } from '../core/hold.ts'
import { DROP_IN_FACE } from '../core/request.ts'
import { CoatcheckError } from '../errors.ts'
import { SessionContext } from './context.ts'
import { resolveOptions, type SessionOptions } from './options.ts'

/** A connect/Express-style middleware; with bare `node:http`, call it with a `next` callback. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void

// A symbol property on the request rather than a WeakMap keyed by it: each context refers back to its request, and
// such WeakMap entries measurably burden the garbage collector (about 20 µs of CPU per request in bench/).
const CONTEXT = Symbol('coatcheck.context')
type WithContext = IncomingMessage & { [CONTEXT]?: SessionContext }

/**
 * The session middleware. Loads the session named by the signed cookie into `req.session` and writes what changed
 * before the first header or byte of the response leaves. A store failure while loading reaches `next(err)` as a
 * `CoatcheckError` with status 503; `req.session` is never silently missing. Throws at start-up on a bad option.
 *
 * @example
 * ```ts
 * import express from 'express'
 * import { session } from 'coatcheck'
 * import { sqliteStore } from 'coatcheck/sqlite'
 *
 * const app = express()
 * app.use(session({ secret: process.env.SESSION_SECRET!, store: sqliteStore({ path: 'data/sessions.db' }) }))
 * app.post('/cart/:item', (req, res) => {
 *   req.session.cart = [...(req.session.cart ?? []), req.params.item]
 *   res.redirect(303, '/cart') // the session is stored before this 303 leaves
 * })
 * ```
 */
export function session(options: SessionOptions): Middleware {
  const o = resolveOptions(options)
  return function coatcheckSession(req, res, next) {
    // Mounted twice (or by two routers): the first instance owns the request.
    if ((req as WithContext)[CONTEXT]) return next()
    const context = new SessionContext(o, req)
    ;(req as WithContext)[CONTEXT] = context
    const ready = () => {
      context.onceDirty(() => holdResponse(res, context))
      next()
    }
    const loading = context.load()
    if (loading === undefined) ready()
    else loading.then(ready, next)
  }
}

/**
 * Writes the session now and sets its cookie on `res`, for frameworks that send headers in ways the middleware
 * cannot see. Later changes are still written when the response leaves.
 *
 * @example
 * ```ts
 * await commitSession(req, res) // before a framework writes to the socket itself
 * reply.hijack()
 * ```
 */
export async function commitSession(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const context = (req as WithContext)[CONTEXT]
  if (!context) return
  const setCookie = await context.commit()
  if (setCookie !== undefined) res.appendHeader('Set-Cookie', setCookie)
}

/**
 * The session context of a request; throws when the session middleware did not run before the caller.
 * @internal
 */
export function contextOf(req: IncomingMessage): SessionContext {
  const context = (req as WithContext)[CONTEXT]
  if (!context) {
    // The drop-in face ran: it is not the engine these helpers work on.
    const message = (req as { [DROP_IN_FACE]?: true })[DROP_IN_FACE]
      ? "coatcheck: this needs modern session() from 'coatcheck'; the drop-in face (coatcheck/express-session) " +
        'has no logIn, guards, devices, rememberMe or loginThrottle (see upgradeSessions to move to modern mode)'
      : 'coatcheck: the session() middleware must run before this'
    throw new CoatcheckError('NO_SESSION_MIDDLEWARE', message, 500)
  }
  return context
}
