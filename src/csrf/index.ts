import type { IncomingMessage } from 'node:http'
import { CoatcheckError } from '../errors.ts'
import { eventEmitter } from '../events.ts'
import type { Middleware } from '../session/middleware.ts'
import { decide, SAFE_METHODS } from './decide.ts'
import { type CsrfOptions, resolveCsrfOptions } from './options.ts'
import { appendVary, refuse } from './reply.ts'
import { keeperOf } from './secret.ts'
import { checkToken, maskToken } from './token.ts'

export type { CsrfOptions } from './options.ts'

declare global {
  namespace Express {
    interface Request {
      /**
       * A masked CSRF token for this session, for a form's `_csrf` field or an `x-csrf-token` header: different on
       * every call, and every one verifies (coatcheck `csrf()`).
       */
      csrfToken(): string
    }
  }
}

const DECIDED = Symbol('coatcheck.csrf')
type CsrfRequest = IncomingMessage & { [DECIDED]?: true; csrfToken?: () => string; body?: unknown }

/**
 * Cross-site request forgery protection, after `session()` or the drop-in `coatcheck/express-session` middleware.
 * GET, HEAD, OPTIONS and TRACE always pass. Any other method passes when `Sec-Fetch-Site` says `same-origin` or
 * `none` (`same-site` with `allowSameSite`); without that header when `Origin` is the app's own origin (or one of
 * `origins`); and when neither header is sent (a script, an old browser) when it carries a valid token from
 * `req.csrfToken()`. Anything else gets a 403 with `Cache-Control: no-store` (a generic page, or the app's own from
 * `onRejected`) and a `csrf-rejected` event naming the reason; with `reportOnly` it gets the event and goes through. Responses to decided requests carry
 * `Vary: Sec-Fetch-Site` (and `Origin` when it was read).
 *
 * The token is a masked copy of one random secret per session, kept on the server (in modern mode in the session's
 * meta, so `logIn` rotates it; in drop-in mode in `req.session.csrfSecret`). A visitor without a stored session gets
 * the secret in a signed, HttpOnly pre-session cookie (`__Host-csrf`, or `csrf` without HTTPS) instead, so a page that
 * renders a form stores no session. Without a session middleware before it, requests fail with
 * `NO_SESSION_MIDDLEWARE`. Throws at start-up on a bad option.
 *
 * @example
 * ```ts
 * app.use(session({ secret: process.env.SESSION_SECRET!, store }))
 * app.use(express.urlencoded({ extended: false })) // before csrf(): it reads the `_csrf` field of req.body
 * app.use(csrf())
 * app.get('/login', (req, res) => {
 *   res.send(`<form method="post"><input type="hidden" name="_csrf" value="${req.csrfToken()}">...</form>`)
 * })
 * // An SPA on another origin, rolled out in report-only mode first:
 * app.use('/api', csrf({ origins: ['https://app.example.com'], reportOnly: true, onEvent: console.warn }))
 * ```
 */
export function csrf(options?: CsrfOptions): Middleware {
  const o = resolveCsrfOptions(options)
  const dropInEmit = eventEmitter(o.onEvent)
  const value = o.value ?? defaultValue
  return function coatcheckCsrf(incoming, res, next) {
    const req = incoming as CsrfRequest
    // Mounted twice (globally and on a router, say): the first instance decides.
    if (req[DECIDED]) return next()
    // method-override rewrites req.method: safe only when both the method the browser sent and the one the app will
    // route are safe (a POST rewritten to GET, or a GET rewritten to POST, is decided like a POST).
    const sent = (req as { originalMethod?: string }).originalMethod ?? req.method!
    const safe = SAFE_METHODS.has(sent) && SAFE_METHODS.has(req.method!)
    const keeper = keeperOf(req, res, !safe, o.onEvent, dropInEmit)
    if (!keeper) {
      const message = 'coatcheck: csrf() needs session() or coatcheck/express-session to run before it'
      return next(new CoatcheckError('NO_SESSION_MIDDLEWARE', message, 500))
    }
    req[DECIDED] = true
    req.csrfToken = () => maskToken(keeper.issue())
    if (safe) return next()

    const decision = decide(req, o, o.trust ?? keeper.trust)
    appendVary(res, decision.vary)
    let outcome = decision.outcome
    if (outcome === 'token') {
      const given = value(req)
      const checked = checkToken(given, keeper.current())
      if (checked === 'token-missing' && o.value === undefined) warnNoBody(req)
      outcome = checked === 'ok' ? 'pass' : checked
    }
    if (outcome === 'pass') return next()
    keeper.emit({ type: 'csrf-rejected', reason: outcome, ...(o.reportOnly && { reportOnly: true }) })
    if (o.reportOnly) return next()
    refuse(req, res, next, o.onRejected)
  }
}

/** The `_csrf` field of a parsed body, else the `x-csrf-token` header. */
function defaultValue(incoming: IncomingMessage): unknown {
  const body = (incoming as CsrfRequest).body
  if (typeof body === 'object' && body !== null && Object.hasOwn(body, '_csrf')) {
    const field = (body as Record<string, unknown>)._csrf
    if (field !== undefined && field !== null && field !== '') return field
  }
  return incoming.headers['x-csrf-token']
}

let warnedNoBody = false

// A form post without a parsed body looks exactly like a missing token: say once what is wrong.
function warnNoBody(req: CsrfRequest): void {
  if (warnedNoBody || req.body !== undefined) return
  const type = req.headers['content-type']
  if (!type?.startsWith('application/x-www-form-urlencoded') && !type?.startsWith('multipart/form-data')) return
  warnedNoBody = true
  process.emitWarning(
    'coatcheck: csrf() found no req.body on a form post, so its `_csrf` field cannot be read; mount a body parser ' +
      '(express.urlencoded()) before csrf(), send the token in an `x-csrf-token` header, or pass `value`',
    { type: 'CoatcheckWarning', code: 'COATCHECK_CSRF_NO_BODY' },
  )
}
