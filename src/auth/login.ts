import type { IncomingMessage, ServerResponse } from 'node:http'
import { toUserId } from '../core/keys.ts'
import { shortId } from '../core/token.ts'
import type { SessionContext } from '../session/context.ts'
import { contextOf } from '../session/middleware.ts'
import type { SessionEntry, SessionMeta } from '../stores/types.ts'
import { deviceMeta, forgetDevice, issue, newRememberToken, rememberingOf, tokensOf } from './remember.ts'
import { destroyUser } from './user.ts'

/** Options of `logIn`. */
export interface LogInOptions {
  /**
   * Carry the anonymous session's data (a cart, say) into the logged-in one. Data is never carried over from a
   * different user's session, nor from a session revoked while this request ran. Default true.
   */
  keep?: boolean
  /**
   * Remember this device: issue a remember-me token in its own long-lived cookie, so a later visit after the browser
   * restarted is logged in again (see `rememberMe()`, which must be mounted). Default false.
   */
  remember?: boolean
}

/** Options of `logOut`. */
export interface LogOutOptions {
  /** End every session of the user, on every device, not only this one. Default false. */
  everywhere?: boolean
}

/**
 * Logs `userId` in on this request: the session gets a new ID (the old record is deleted, so a planted cookie is
 * useless), and stores the user, the auth time, the client IP and user agent. The session is stored before this
 * resolves; the response carries the new cookie. A user ID is a string (an integer is stored as its decimal string),
 * well-formed Unicode without U+0000, at most 256 characters.
 *
 * @example
 * ```ts
 * app.post('/login', async (req, res) => {
 *   const user = await users.findByEmail(req.body.email)
 *   const { ok } = await verifyPassword(user?.passwordHash, req.body.password)
 *   if (!user || !ok) return res.status(401).send('Invalid email or password')
 *   await logIn(req, user.id)
 *   res.redirect(303, '/dashboard')
 * })
 * ```
 */
export async function logIn(req: IncomingMessage, userId: string | number, options: LogInOptions = {}): Promise<void> {
  const id = toUserId(userId)
  const context = contextOf(req)
  const remembering = options.remember === true ? rememberingOf(req) : undefined
  // A store without remember-me tokens fails the login before it changes anything, not after it logged the user in.
  if (remembering) tokensOf(context)
  const device = deviceMeta(context, req, context.options.now())
  const token = remembering && newRememberToken()
  const meta = token ? { ...device, rememberId: token.id } : device
  const sameUser = context.userId === null || context.userId === id
  await forgetDevice(context, req, !token)
  await context.rotate({ carry: (options.keep ?? true) && sameUser ? 'data' : 'nothing', user: { id, meta } })
  context.notePasswordLogin()
  if (token) await issue(context, token, device, remembering!.maxAge)
  context.emit({ type: 'login', sid: shortId(context.storedKey!) })
}

/**
 * Logs out: deletes this session (or, with `everywhere`, every session and remember-me token of the user), expires
 * the cookie with the attributes it was set with, and marks the response `Cache-Control: no-store`.
 *
 * @example
 * ```ts
 * app.post('/logout', async (req, res) => {
 *   await logOut(req, res)
 *   res.redirect(303, '/')
 * })
 * ```
 */
export async function logOut(req: IncomingMessage, res: ServerResponse, options: LogOutOptions = {}): Promise<void> {
  const context = contextOf(req)
  const sid = context.storedKey && shortId(context.storedKey)
  const userId = context.userId
  const loaded = context.meta
  if (options.everywhere && userId !== null) await context.call(() => destroyUser(context.options.store, userId))
  await forgetDevice(context, req) // this device's token (already gone after everywhere) and its remember cookie
  await context.destroy()
  if (!options.everywhere && userId !== null) await endSameLogin(context, userId, loaded)
  res.setHeader('Cache-Control', 'no-store')
  context.emit({ type: 'logout', ...(sid && { sid }) })
}

/**
 * Ends the sessions of this very login on this device that a concurrent request moved to another key: a
 * `regenerate({ keep })` carries the login's `authAt` and user agent, a remember-me restore its `rememberId`. One that
 * stores its key after this listing finds the old record or the token gone and undoes itself.
 */
async function endSameLogin(context: SessionContext, userId: string, loaded: Readonly<SessionMeta>): Promise<void> {
  const sameLogin = (meta: SessionMeta) =>
    (loaded.authAt !== undefined && meta.authAt === loaded.authAt && meta.ua === loaded.ua) ||
    (typeof loaded.rememberId === 'string' && meta.rememberId === loaded.rememberId)
  let entries: SessionEntry[]
  try {
    entries = await context.call(() => context.options.store.listByUser(userId))
  } catch (error) {
    // A callback store without all() cannot list: the logout of this key stands, as express-session's would.
    if ((error as { code?: string })?.code === 'STORE_UNSUPPORTED') return
    throw error
  }
  for (const { key, record } of entries) {
    if (record.userId === userId && sameLogin(record.meta)) await context.call(() => context.options.store.destroy(key))
  }
}
