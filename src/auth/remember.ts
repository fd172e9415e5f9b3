/**
 * Remember-me: a per-device token in its own long-lived cookie that restores a session after the browser restarted.
 * The cookie holds a public selector (the store key) and a secret validator, signed with the session secrets so a
 * forged value never reaches the store; the store keeps only the validator's SHA-256. Every use rotates the validator
 * (compare-and-rotate in the store); a valid selector with a validator that is neither the current one nor, within a
 * short grace, the one just rotated away is a replayed stolen cookie: every token and session of the user is revoked.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { rawCookieValues, serializeCookie } from '../core/cookie.ts'
import { clientIp } from '../core/request.ts'
import { shortId, sign, unsign } from '../core/token.ts'
import { CoatcheckError } from '../errors.ts'
import type { SessionContext } from '../session/context.ts'
import { contextOf, type Middleware } from '../session/middleware.ts'
import type { SessionMeta, TokenRecord, TokenStore } from '../stores/types.ts'
import { intOption, knownKeys } from '../validate.ts'
import { destroyUser } from './user.ts'

const DAY = 86_400_000

/** Options of {@link rememberMe}. */
export interface RememberMeOptions {
  /** How long a remembered device stays remembered, in ms from the password login. Positive integer up to 400 days. Default 30 days. */
  maxAge?: number
  /**
   * How long after a rotation the validator it replaced is still accepted, in ms: the other requests of a page that
   * loads several resources with the same cookie at once. Integer from 0 to 5 minutes. Default 30 000.
   */
  grace?: number
}

/** The resolved remember-me settings, on the request for `logIn`. @internal */
export interface Remembering {
  readonly maxAge: number
  readonly grace: number
}

const REMEMBERING = Symbol('coatcheck.remember')
type WithRemembering = IncomingMessage & { [REMEMBERING]?: Remembering }

/** The cookie name: `__Host-remember` on Secure responses, `remember` otherwise. @internal */
export const cookieName = (context: SessionContext) => (context.secure ? '__Host-remember' : 'remember')

/**
 * Restores a session from a valid remember-me cookie on a request that has no logged-in session: a new session for
 * that user (new ID, the original password login's `authAt`, marked `remembered`, so `requireFresh` asks for the
 * password again), a rotated validator, and both cookies. Mount it right after `session()`; `logIn(req, id,
 * { remember: true })` then issues the tokens. A malformed cookie is ignored; a store failure is a 503.
 *
 * @example
 * ```ts
 * app.use(session({ secret, store }))
 * app.use(rememberMe())
 * app.post('/login', async (req, res) => {
 *   // ...verify the password...
 *   await logIn(req, user.id, { remember: req.body.remember === 'on' })
 *   res.redirect(303, '/dashboard')
 * })
 * ```
 */
export function rememberMe(options: RememberMeOptions = {}): Middleware {
  knownKeys('rememberMe()', options, ['maxAge', 'grace'])
  const settings: Remembering = Object.freeze({
    maxAge: intOption('maxAge', options.maxAge, 30 * DAY, { max: 400 * DAY }),
    grace: intOption('grace', options.grace, 30_000, { min: 0, max: 300_000 }),
  })
  return (req, _res, next) => {
    let context: SessionContext
    try {
      context = contextOf(req)
    } catch (error) {
      return next(error)
    }
    ;(req as WithRemembering)[REMEMBERING] = settings
    if (context.userId !== null) return next()
    restore(context, req, settings).then(() => next(), next)
  }
}

/** The remember-me settings of this request; throws when `rememberMe()` did not run. @internal */
export function rememberingOf(req: IncomingMessage): Remembering {
  const settings = (req as WithRemembering)[REMEMBERING]
  if (!settings) {
    throw new CoatcheckError(
      'NO_SESSION_MIDDLEWARE',
      'coatcheck: `logIn(req, id, { remember: true })` needs `app.use(rememberMe())` after `session()`',
      500,
    )
  }
  return settings
}

/** The store's remember-me tokens; throws when the store keeps none (a store written for express-session). @internal */
export function tokensOf(context: SessionContext): TokenStore {
  const tokens = (context.options.store as { tokens?: TokenStore }).tokens
  if (!tokens) {
    throw new CoatcheckError('STORE_UNSUPPORTED', 'coatcheck: remember-me needs a coatcheck store (tokens)', 501)
  }
  return tokens
}

/** @internal */
export interface Presented {
  id: string
  validator: string
}

/** The selector and validator of the request's remember cookie, when it is one we signed. @internal */
export function presented(context: SessionContext, req: IncomingMessage): Presented | undefined {
  for (const raw of rawCookieValues(req.headers.cookie, cookieName(context))) {
    let value: string
    try {
      value = decodeURIComponent(raw)
    } catch {
      continue
    }
    const inner = unsign(value, context.options.secrets)
    const dot = inner?.indexOf(':') ?? -1
    if (inner === undefined || dot < 1) continue
    return { id: inner.slice(0, dot), validator: inner.slice(dot + 1) }
  }
  return undefined
}

const MAX_USER_AGENT = 256

/** What a login records about the device: when the password was entered, the client IP and user agent. @internal */
export function deviceMeta(context: SessionContext, req: IncomingMessage, authAt: number) {
  const ua = req.headers['user-agent']
  return {
    authAt,
    ip: clientIp(req, context.options.trust),
    ua: typeof ua === 'string' ? ua.slice(0, MAX_USER_AGENT) : null,
  }
}

const digest = (validator: string) => createHash('sha256').update(validator).digest('base64url')

function same(a: string | null | undefined, b: string): boolean {
  if (typeof a !== 'string' || a.length !== b.length) return false
  return timingSafeEqual(Buffer.from(a), Buffer.from(b))
}

/** The Set-Cookie value of a remember cookie: the signed `selector:validator`, or an expiring one. @internal */
export function rememberCookie(context: SessionContext, token: Presented | undefined, expiresAt = 0): string {
  const o = context.options
  const name = cookieName(context)
  if (!token) return serializeCookie(name, '', { ...o.cookie, path: '/', domain: undefined }, context.secure, 0)
  const maxAge = Math.max(1, Math.ceil((expiresAt - o.now()) / 1000))
  const value = sign(`${token.id}:${token.validator}`, o.secrets[0]!)
  return serializeCookie(name, value, { ...o.cookie, path: '/', domain: undefined }, context.secure, maxAge)
}

/** A new selector and validator. @internal */
export function newRememberToken(): Presented {
  return { id: randomBytes(16).toString('base64url'), validator: randomBytes(32).toString('base64url') }
}

/**
 * Issues a remember-me token for the user just logged in on `context` (the session is stored, its meta names the
 * token as `rememberId`), and queues its cookie on the response.
 * @internal
 */
export async function issue(context: SessionContext, token: Presented, meta: SessionMeta, maxAge: number) {
  const now = context.options.now()
  const record: TokenRecord = {
    userId: context.userId!,
    hash: digest(token.validator),
    createdAt: now,
    expiresAt: now + maxAge,
    meta,
    previousHash: null,
    rotatedAt: null,
  }
  const tokens = tokensOf(context)
  await context.call(() => tokens.create(token.id, record))
  context.queueCookie(rememberCookie(context, token, record.expiresAt))
  context.emit({ type: 'remember-issued', sid: shortId(context.storedKey!), tokenId: shortId(token.id) })
}

async function restore(context: SessionContext, req: IncomingMessage, settings: Remembering) {
  const token = presented(context, req)
  if (!token) return
  const tokens = tokensOf(context)
  const tokenId = shortId(token.id)
  const found = await context.call(() => tokens.get(token.id))
  const now = context.options.now()
  if (!found || found.expiresAt <= now) {
    context.emit({ type: 'remember-expired', tokenId })
    if (found) await context.call(() => tokens.destroy(token.id))
    context.queueCookie(rememberCookie(context, undefined))
    return
  }
  const hash = digest(token.validator)
  const withinGrace = (record: TokenRecord) =>
    same(record.previousHash, hash) && record.rotatedAt !== null && now - record.rotatedAt <= settings.grace
  const current = same(found.hash, hash)
  if (!current && !withinGrace(found)) return theft(context, found.userId, tokenId)

  // The session is stored first and the token checked again after: a revocation deletes tokens before sessions, so
  // whichever way the two interleave, a revoked user's restore ends anonymous.
  const authAt = typeof found.meta.authAt === 'number' ? found.meta.authAt : found.createdAt
  const meta = { ...deviceMeta(context, req, authAt), remembered: true, rememberId: token.id }
  await context.rotate({ carry: 'data', user: { id: found.userId, meta } })
  if ((await context.call(() => tokens.get(token.id))) === undefined) return undo(context)
  context.emit({ type: 'remember-used', sid: shortId(context.storedKey!), tokenId })
  if (!current) return // a sibling request of the same page rotated it a moment ago; its response sets the cookie

  // The validator rotates only once the session is stored (in the commit): a response that fails never leaves the
  // browser holding a validator the store no longer accepts.
  context.afterWrite(async () => {
    // A logIn, logOut or regenerate on this request replaced the restored session (a sign-in form posted after the
    // session expired, say): the token is no longer this session's, and what became of it was decided there.
    if (context.meta.rememberId !== token.id) return undefined
    const rotated = { id: token.id, validator: newRememberToken().validator }
    const next = {
      hash: digest(rotated.validator),
      expiresAt: found.expiresAt,
      rotatedAt: now,
      meta: { ...found.meta, lastUsedAt: now },
    }
    if (await context.call(() => tokens.rotate(token.id, found.hash, next))) {
      return rememberCookie(context, rotated, found.expiresAt)
    }
    const again = await context.call(() => tokens.get(token.id))
    if (again === undefined) {
      // Revoked or logged out meanwhile: the session this request restored must not outlive its token.
      await context.destroy()
      return rememberCookie(context, undefined)
    }
    if (withinGrace(again)) return undefined // a sibling request rotated first
    await theft(context, found.userId, tokenId)
    return undefined
  })
}

async function undo(context: SessionContext): Promise<void> {
  const key = context.storedKey
  if (key !== undefined) await context.destroy()
  context.queueCookie(rememberCookie(context, undefined))
}

async function theft(context: SessionContext, userId: string, tokenId: string) {
  await context.call(() => destroyUser(context.options.store, userId))
  context.emit({ type: 'remember-theft', tokenId })
  context.queueCookie(rememberCookie(context, undefined))
}

/**
 * Deletes this device's remember-me token (the one its cookie names, and the one its session names) and expires the
 * cookie: at logout, and before a login replaces it.
 * @internal
 */
export async function forgetDevice(context: SessionContext, req: IncomingMessage, expire = true): Promise<void> {
  const tokens = (context.options.store as { tokens?: TokenStore }).tokens
  if (!tokens) return
  const cookie = presented(context, req)
  const ids = new Set([cookie?.id, context.meta.rememberId].filter((id): id is string => typeof id === 'string'))
  for (const id of ids) await context.call(() => tokens.destroy(id))
  if (cookie && expire) context.queueCookie(rememberCookie(context, undefined))
}
