import type { IncomingMessage } from 'node:http'
import { contextOf } from '../session/middleware.ts'

/** What a "your session" page shows about the current session. Times are epoch ms; null while nothing is stored. */
export interface SessionInfo {
  /** The logged-in user, or null. */
  userId: string | null
  /** When the password was entered: for a session restored by remember-me, the original password login. */
  authAt: number | null
  /** When this session was created (a login or a restore creates a new one). */
  createdAt: number | null
  /** The last activity that was written (lazily: not every request writes it). */
  lastSeenAt: number | null
  /** When the session ends if unused: the idle deadline, capped by the absolute one. */
  expiresAt: number | null
  /** When the session ends whatever happens. */
  absoluteExpiresAt: number | null
  /** The session was restored by remember-me (so `requireFresh` asks for the password again). */
  restored: boolean
  /** This device is remembered: it has a remember-me token. */
  remembered: boolean
}

/**
 * The current session's facts: who, since when, until when, and whether remember-me is involved.
 *
 * @example
 * ```ts
 * app.get('/dashboard', requireAuth(), (req, res) => {
 *   const { authAt, expiresAt, restored } = sessionInfo(req)
 *   res.render('dashboard', { authAt, expiresAt, restored })
 * })
 * ```
 */
export function sessionInfo(req: IncomingMessage): SessionInfo {
  const context = contextOf(req)
  const times = context.deadlines
  const { authAt, remembered, rememberId } = context.meta
  return {
    userId: context.userId,
    authAt: typeof authAt === 'number' ? authAt : null,
    createdAt: times?.createdAt ?? null,
    lastSeenAt: times?.lastSeenAt ?? null,
    expiresAt: times?.expiresAt ?? null,
    absoluteExpiresAt: times?.absoluteExpiresAt ?? null,
    restored: remembered === true,
    remembered: typeof rememberId === 'string',
  }
}
