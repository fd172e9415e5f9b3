/**
 * Where one request's CSRF secret lives, for each face. Modern mode: in the session's meta (never app data), and
 * for a visitor without a stored session in a signed pre-session cookie, so that rendering a form stores nothing.
 * Drop-in mode: in the express-session record as `req.session.csrfSecret`, as csurf kept it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TrustProxy } from '../core/request.ts'
import { shortId } from '../core/token.ts'
import { CoatcheckError } from '../errors.ts'
import type { OnEvent, SessionEvent } from '../events.ts'
import { controllers } from '../express-session/session.ts'
import type { SessionContext } from '../session/context.ts'
import { contextOf } from '../session/middleware.ts'
import { hasCookie, isSecret, newSecret, preSessionCookie, preSessionName, readPreSession } from './token.ts'

/** The session meta key of the secret in modern mode. */
export const META_KEY = 'csrf'
/** The session data key of the secret in drop-in mode (csurf's). */
export const DATA_KEY = 'csrfSecret'

/** One request's secret, wherever its face keeps it. */
export interface Keeper {
  /** The secret a submitted token is checked against; undefined when this visitor was never given one. */
  current(): string | undefined
  /** The secret `req.csrfToken()` masks: the current one, or a new one kept for the requests to come. */
  issue(): string
  /** Publishes a `csrf-rejected` event, with the session's short hash when there is one. */
  emit(event: SessionEvent): void
  /** Which proxies to believe when `csrf()` has no `trustProxy` of its own. */
  readonly trust: TrustProxy
}

/**
 * The keeper of the face whose session middleware ran on `req`, or undefined when none did. In drop-in mode
 * `emit` is `dropInEmit` (the drop-in's own `onEvent` is not reachable from here); in modern mode it is the session's,
 * plus `onEvent`.
 */
export function keeperOf(
  req: IncomingMessage,
  res: ServerResponse,
  unsafe: boolean,
  onEvent: OnEvent | undefined,
  dropInEmit: (event: SessionEvent) => void,
): Keeper | undefined {
  if (controllers.get(req)) return dropInKeeper(req as DropInRequest, dropInEmit)
  let context: SessionContext
  try {
    context = contextOf(req)
  } catch {
    return undefined
  }
  return modernKeeper(context, req, res, unsafe, onEvent)
}

function modernKeeper(
  context: SessionContext,
  req: IncomingMessage,
  res: ServerResponse,
  unsafe: boolean,
  onEvent: OnEvent | undefined,
): Keeper {
  const { secrets } = context.options
  const name = preSessionName(context.secure)
  let cookieRead = false
  let cookieSecret: string | undefined
  // Once a session is stored its meta secret rules, so a pre-session secret from before (a login, say) is dropped,
  // and not reused should this request end the session (a logout that renders a form gets a new one).
  if (context.storedKey !== undefined && hasCookie(req.headers.cookie, name)) {
    // Queued, not set: appended at release after the app's own headers, and dropped with the rest on a failed commit.
    context.queueCookie(preSessionCookie(name, context.secure))
    cookieRead = true
  }
  const preSession = () => {
    if (!cookieRead) cookieSecret = readPreSession(req.headers.cookie, name, secrets)
    cookieRead = true
    return cookieSecret
  }
  // An unsafe request may store the session (add to cart, sign up): it then keeps the visitor's pre-session secret,
  // so forms rendered before stay valid. Meta alone never stores a session, and `logIn` replaces it (rotation).
  if (unsafe && context.storedKey === undefined && preSession() !== undefined) {
    context.setMeta(META_KEY, cookieSecret!)
  }
  const kept = () => {
    const secret = context.meta[META_KEY]
    return isSecret(secret) ? secret : undefined
  }
  return {
    current: () => kept() ?? (context.storedKey === undefined ? preSession() : undefined),
    issue() {
      const secret = kept()
      if (secret !== undefined) return secret
      let fresh: string
      if (context.storedKey !== undefined) {
        fresh = newSecret()
      } else {
        // Kept in the cookie and, in memory, in meta: if this request ends up storing the session, the stored
        // session keeps the very secret the page's token was made from.
        fresh = preSession() ?? newSecret()
        if (fresh !== cookieSecret) {
          if (res.headersSent) throw lateCookie()
          context.queueCookie(preSessionCookie(name, context.secure, fresh, secrets[0]!))
          cookieSecret = fresh
        }
      }
      context.setMeta(META_KEY, fresh)
      return fresh
    },
    emit(event) {
      const key = context.storedKey
      const full = key === undefined ? event : { ...event, sid: shortId(key) }
      context.emit(full)
      if (!onEvent) return
      try {
        onEvent(full)
      } catch (error) {
        process.emitWarning(`coatcheck: onEvent threw: ${String(error)}`, 'CoatcheckWarning')
      }
    },
    trust: context.options.trust,
  }
}

type DropInRequest = IncomingMessage & { session?: Record<string, unknown> | null; sessionID?: string }

function dropInKeeper(req: DropInRequest, emit: (event: SessionEvent) => void): Keeper {
  const kept = () => {
    const secret = req.session?.[DATA_KEY]
    return isSecret(secret) ? secret : undefined
  }
  return {
    current: kept,
    issue() {
      const secret = kept()
      if (secret !== undefined) return secret
      const session = req.session
      if (!session) {
        throw new CoatcheckError(
          'NO_SESSION_MIDDLEWARE',
          'coatcheck: req.csrfToken() needs req.session, which is gone (destroyed or unset)',
          500,
        )
      }
      const fresh = newSecret()
      session[DATA_KEY] = fresh
      return fresh
    },
    emit(event) {
      emit(req.sessionID ? { ...event, sid: shortId(req.sessionID) } : event)
    },
    trust: expressTrust(req),
  }
}

/** Express's own `trust proxy` judgement (`app.set('trust proxy', ...)`), which express-session follows too. */
function expressTrust(req: IncomingMessage): TrustProxy {
  const app = (req as { app?: { get?: (name: string) => unknown } }).app
  const fn = typeof app?.get === 'function' ? app.get('trust proxy fn') : undefined
  return typeof fn === 'function' ? (fn as TrustProxy) : () => false
}

function lateCookie(): Error {
  return new Error(
    'coatcheck: req.csrfToken() must set its cookie for a visitor without a session, but the response headers were ' +
      'already sent; call it before the response starts',
  )
}
