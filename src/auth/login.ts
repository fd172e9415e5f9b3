import type { IncomingMessage, ServerResponse } from 'node:http'
import { clientIp } from '../core/request.ts'
import { shortId } from '../core/token.ts'
import { contextOf } from '../session/middleware.ts'

/** Options of `logIn`. */
export interface LogInOptions {
  /**
   * Carry the anonymous session's data (a cart, say) into the logged-in one. Data is never carried over from a
   * different user's session. Default true.
   */
  keep?: boolean
}

/** Options of `logOut`. */
export interface LogOutOptions {
  /** End every session of the user, on every device, not only this one. Default false. */
  everywhere?: boolean
}

const MAX_USER_AGENT = 256

/**
 * Logs `userId` in on this request: the session gets a new ID (the old record is deleted, so a planted cookie is
 * useless), and stores the user, the auth time, the client IP and user agent. The session is stored before this
 * resolves; the response carries the new cookie.
 */
export async function logIn(req: IncomingMessage, userId: string, options: LogInOptions = {}): Promise<void> {
  if (typeof userId !== 'string' || userId.length === 0) throw new TypeError('coatcheck: logIn needs a userId string')
  const context = contextOf(req)
  const ua = req.headers['user-agent']
  await context.logIn(
    userId,
    {
      authAt: context.options.now(),
      ip: clientIp(req, context.options.trust),
      ua: typeof ua === 'string' ? ua.slice(0, MAX_USER_AGENT) : null,
    },
    options.keep ?? true,
  )
}

/**
 * Logs out: deletes this session (or, with `everywhere`, every session of the user), expires the cookie with the
 * attributes it was set with, and marks the response `Cache-Control: no-store`.
 */
export async function logOut(req: IncomingMessage, res: ServerResponse, options: LogOutOptions = {}): Promise<void> {
  const context = contextOf(req)
  const sid = context.storedKey && shortId(context.storedKey)
  if (options.everywhere) await context.revokeUserSessions(false)
  await context.destroy()
  res.setHeader('Cache-Control', 'no-store')
  context.emit({ type: 'logout', ...(sid && { sid }) })
}
