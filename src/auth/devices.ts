import type { IncomingMessage } from 'node:http'
import { shortId } from '../core/token.ts'
import { contextOf } from '../session/middleware.ts'
import type { CoatcheckStore, SessionStore } from '../stores/types.ts'
import { destroyUser } from '../stores/user.ts'
import { deviceLabel } from './useragent.ts'

/** One of the user's live sessions, as shown on an "your devices" page. Nothing in it can be used as a cookie. */
export interface DeviceSession {
  /** A non-secret handle for `revokeSession`. */
  handle: string
  createdAt: number
  lastSeenAt: number
  ip: string | null
  userAgent: string | null
  /** Such as "Chrome on Linux". */
  label: string
  /** This request's own session. */
  current: boolean
}

/** The logged-in user's live sessions, most recently used first; empty when nobody is logged in. */
export async function listSessions(req: IncomingMessage): Promise<DeviceSession[]> {
  const context = contextOf(req)
  const entries = await context.sessionsOfUser()
  return entries
    .map(({ key, record }) => {
      const ua = typeof record.meta.ua === 'string' ? record.meta.ua : null
      return {
        handle: shortId(key),
        createdAt: record.createdAt,
        lastSeenAt: record.lastSeenAt,
        ip: typeof record.meta.ip === 'string' ? record.meta.ip : null,
        userAgent: ua,
        label: deviceLabel(ua),
        current: key === context.storedKey,
      }
    })
    .sort((a, b) => b.lastSeenAt - a.lastSeenAt)
}

/** Ends one of the logged-in user's own sessions by its handle. Resolves false when no session of theirs has it. */
export async function revokeSession(req: IncomingMessage, handle: string): Promise<boolean> {
  const context = contextOf(req)
  const match = (await context.sessionsOfUser()).find((entry) => shortId(entry.key) === handle)
  if (!match) return false
  await context.destroyKey(match.key)
  return true
}

/**
 * Ends every other session of the logged-in user (after a password change, say) and gives this one a new ID.
 * Resolves how many were ended.
 */
export function revokeOtherSessions(req: IncomingMessage): Promise<number> {
  return contextOf(req).revokeUserSessions(true)
}

/**
 * Ends every session (and remember-me token, when the store keeps them) of `userId`, without a request: for admins
 * and account deletion. O(that user's sessions) on every backend. Resolves how many sessions were ended.
 */
export function revokeAllSessions(store: SessionStore | CoatcheckStore, userId: string): Promise<number> {
  return destroyUser(store, userId)
}
