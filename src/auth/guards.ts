import type { IncomingMessage, ServerResponse } from 'node:http'
import { CoatcheckError, invalidOption } from '../errors.ts'
import type { Middleware } from '../session/middleware.ts'
import { contextOf } from '../session/middleware.ts'
import { intOption, knownKeys } from '../validate.ts'

/** Options of `requireFresh`. */
export interface RequireFreshOptions {
  /**
   * Where to send browsers (requests that accept text/html) to re-enter their password, instead of a 401: a local
   * path, or a function of the request returning one (to add `?next=`). Default none: always 401 JSON.
   */
  redirectTo?: string | ((req: IncomingMessage) => string)
}

/** Options of `requireAuth`. */
export interface RequireAuthOptions {
  /** Where to send browsers (requests that accept text/html) instead of a 401. Default none: always 401 JSON. */
  redirectTo?: string
}

function deny(res: ServerResponse, body: Record<string, string>): void {
  res.writeHead(401, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
  res.end(JSON.stringify(body))
}

/**
 * Lets only logged-in requests through. Others get 401 `{ "error": "Unauthorized" }`, or a 303 to `redirectTo` when
 * they accept HTML. It fails closed: when the session could not be loaded, the request never gets here (the session
 * middleware passed a 503 to `next`), and without the session middleware it is an error, not a pass.
 *
 * @example
 * ```ts
 * app.get('/api/me', requireAuth(), (req, res) => res.json({ userId: req.session.userId }))
 * app.get('/dashboard', requireAuth({ redirectTo: '/login' }), renderDashboard)
 * ```
 */
export function requireAuth(options?: RequireAuthOptions): Middleware
export function requireAuth(options: RequireAuthOptions = {}, _res?: unknown, next?: unknown): Middleware {
  if (mountedBare(options, next)) {
    next(misuse('requireAuth()'))
    return undefined as unknown as Middleware
  }
  knownKeys('requireAuth()', options, ['redirectTo'])
  const { redirectTo } = options
  if (redirectTo !== undefined) localPath(redirectTo)
  return (req, res, next) => {
    try {
      if (contextOf(req).userId !== null) return next()
    } catch (error) {
      return next(error)
    }
    if (redirectTo !== undefined && acceptsHtml(req)) {
      res.writeHead(303, { location: redirectTo, 'cache-control': 'no-store' })
      res.end()
      return
    }
    deny(res, { error: 'Unauthorized' })
  }
}

/**
 * Guards sensitive actions: the user must have logged in (entered a password) within `maxAgeMs`. Otherwise a 401
 * `{ "error": "Reauthentication required", "reason": "stale" }` that the app can turn into "confirm your password"
 * (`reason: "unauthenticated"` when nobody is logged in), or, with `redirectTo`, a 303 there for requests that accept
 * HTML. Sessions restored by remember-me are never fresh.
 *
 * @example
 * ```ts
 * app.post('/account/password', requireAuth(), requireFresh(10 * 60_000), changePassword)
 * app.get('/account/password', requireFresh(10 * 60_000, { redirectTo: (req) => `/confirm?next=${req.url}` }), form)
 * ```
 */
export function requireFresh(maxAgeMs: number, options?: RequireFreshOptions): Middleware
export function requireFresh(maxAgeMs: number, options?: unknown, next?: unknown): Middleware {
  if (mountedBare(maxAgeMs, next)) {
    next(misuse('requireFresh(maxAgeMs)'))
    return undefined as unknown as Middleware
  }
  intOption('maxAgeMs', maxAgeMs, undefined)
  knownKeys('requireFresh()', options, ['redirectTo'])
  const { redirectTo } = (options ?? {}) as RequireFreshOptions
  if (redirectTo !== undefined && typeof redirectTo !== 'function') localPath(redirectTo)
  const refuse = (req: IncomingMessage, res: ServerResponse, body: Record<string, string>) => {
    if (redirectTo === undefined || !acceptsHtml(req)) return deny(res, body)
    const location = typeof redirectTo === 'function' ? redirectTo(req) : redirectTo
    res.writeHead(303, { location, 'cache-control': 'no-store' })
    res.end()
  }
  return (req, res, next) => {
    let context: ReturnType<typeof contextOf>
    try {
      context = contextOf(req)
    } catch (error) {
      return next(error)
    }
    if (context.userId === null) return refuse(req, res, { error: 'Unauthorized', reason: 'unauthenticated' })
    const { authAt, remembered } = context.meta
    const fresh = typeof authAt === 'number' && context.options.now() - authAt <= maxAgeMs && remembered !== true
    if (fresh) return next()
    refuse(req, res, { error: 'Reauthentication required', reason: 'stale' })
  }
}

function localPath(redirectTo: unknown): void {
  if (typeof redirectTo !== 'string' || !/^\/(?![/\\])/.test(redirectTo)) {
    throw invalidOption('redirectTo', "must be a local path: starting with '/', not '//'")
  }
}

/** `app.get('/me', requireAuth, handler)`: the factory itself was mounted, and Express now calls it per request. */
function mountedBare(first: unknown, third: unknown): third is (error: unknown) => void {
  return typeof third === 'function' && typeof first === 'object' && first !== null && 'headers' in first
}

function misuse(call: string): CoatcheckError {
  const name = call.slice(0, call.indexOf('('))
  return new CoatcheckError(
    'INVALID_OPTION',
    `coatcheck: \`${name}\` was mounted as middleware itself; mount what it returns: \`${call}\``,
    500,
  )
}

function acceptsHtml(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').includes('text/html')
}
