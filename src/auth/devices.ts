import type { IncomingMessage } from 'node:http'
import { toUserId } from '../core/keys.ts'
import { shortId } from '../core/token.ts'
import type { SessionContext } from '../session/context.ts'
import { contextOf } from '../session/middleware.ts'
import { resolveStore } from '../session/store-option.ts'
import type { LegacyStore } from '../stores/legacy/adapter.ts'
import type {
  CoatcheckStore,
  SessionEntry,
  SessionMeta,
  SessionStore,
  TokenEntry,
  TokenStore,
} from '../stores/types.ts'
import { destroyUser } from './user.ts'
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
  /** The device is remembered (remember-me): it is listed even while it has no live session. */
  remembered: boolean
}

/** A handle for a remembered device without a live session: distinct from any session's. */
const tokenHandle = (id: string) => shortId(`remember:${id}`)

/** The user's remember-me tokens, when the store keeps them. */
async function tokensOfUser(context: SessionContext, userId: string): Promise<TokenEntry[]> {
  const tokens = (context.options.store as { tokens?: TokenStore }).tokens
  if (!tokens) return []
  const now = context.options.now()
  return (await context.call(() => tokens.listByUser(userId))).filter((t) => t.record.expiresAt > now)
}

/** The live sessions of the logged-in user (none when anonymous). */
async function sessionsOfUser(context: SessionContext): Promise<SessionEntry[]> {
  const userId = context.userId
  if (userId === null) return []
  const entries = await context.call(() => context.options.store.listByUser(userId))
  return entries.filter((entry) => entry.record.userId === userId && !context.isExpired(entry.record))
}

/**
 * The logged-in user's live sessions, most recently used first; empty when nobody is logged in.
 *
 * @example
 * ```ts
 * app.get('/devices', requireAuth(), async (req, res) => res.json(await listSessions(req)))
 * ```
 */
export async function listSessions(req: IncomingMessage): Promise<DeviceSession[]> {
  const context = contextOf(req)
  const userId = context.userId
  if (userId === null) return []
  const [entries, tokens] = await Promise.all([sessionsOfUser(context), tokensOfUser(context, userId)])
  const live = new Set(entries.map((e) => e.record.meta.rememberId))
  const devices = entries.map(({ key, record }) =>
    device(shortId(key), record.createdAt, record.lastSeenAt, record.meta, key === context.storedKey),
  )
  for (const { id, record } of tokens) {
    if (live.has(id)) continue
    const lastSeenAt = typeof record.meta.lastUsedAt === 'number' ? record.meta.lastUsedAt : record.createdAt
    devices.push(device(tokenHandle(id), record.createdAt, lastSeenAt, { ...record.meta, rememberId: id }, false))
  }
  return devices.sort((a, b) => b.lastSeenAt - a.lastSeenAt)
}

function device(handle: string, createdAt: number, lastSeenAt: number, meta: SessionMeta, current: boolean) {
  const { ip, userAgent, label, remembered } = deviceFields(meta)
  return { handle, createdAt, lastSeenAt, ip, userAgent, label, current, remembered }
}

/** What a session's login meta says of its device: user agent, its label, IP, and whether remember-me opened it. */
export function deviceFields(meta: SessionMeta) {
  const userAgent = typeof meta.ua === 'string' ? meta.ua : null
  return {
    userAgent,
    label: deviceLabel(userAgent),
    ip: typeof meta.ip === 'string' ? meta.ip : null,
    remembered: typeof meta.rememberId === 'string',
  }
}

/**
 * Ends one of the logged-in user's own sessions by its handle. Resolves false when no session of theirs has it.
 *
 * @example
 * ```ts
 * app.post('/devices/:handle/revoke', requireAuth(), async (req, res) => {
 *   await revokeSession(req, req.params.handle)
 *   res.redirect(303, '/devices')
 * })
 * ```
 */
export async function revokeSession(req: IncomingMessage, handle: string): Promise<boolean> {
  const context = contextOf(req)
  const userId = context.userId
  if (userId === null) return false
  const match = (await sessionsOfUser(context)).find((entry) => shortId(entry.key) === handle)
  const rememberId = match
    ? match.record.meta.rememberId
    : (await tokensOfUser(context, userId)).find((t) => tokenHandle(t.id) === handle)?.id
  if (!match && rememberId === undefined) return false
  const tokens = (context.options.store as { tokens?: TokenStore }).tokens
  if (typeof rememberId === 'string' && tokens) await context.call(() => tokens.destroy(rememberId))
  if (match?.key === context.storedKey) await context.destroy()
  else if (match) await context.call(() => context.options.store.destroy(match.key))
  return true
}

/**
 * Ends every other session of the logged-in user (after a password change, say) and gives this one a new ID.
 * Resolves how many were ended. A session revoked meanwhile by another request stays revoked: this one then ends
 * anonymous.
 *
 * @example
 * ```ts
 * await revokeOtherSessions(req) // after storing the new password hash
 * ```
 */
export async function revokeOtherSessions(req: IncomingMessage): Promise<number> {
  const context = contextOf(req)
  const userId = context.userId
  if (userId === null) return 0
  const current = context.storedKey
  // Tokens before sessions, as destroyUser does (see there).
  const tokens = (context.options.store as { tokens?: TokenStore }).tokens
  for (const { id } of await tokensOfUser(context, userId)) {
    if (id !== context.meta.rememberId) await context.call(() => tokens!.destroy(id))
  }
  const removed = await context.call(() => context.options.store.destroyByUser(userId, current))
  await context.rotate({ carry: 'session' })
  await context.persist()
  return removed
}

/**
 * Ends every session (and remember-me token, when the store keeps them) of `userId`, without a request: for admins
 * and account deletion. O(that user's sessions) on every backend. Resolves how many sessions were ended.
 *
 * @example
 * ```ts
 * await revokeAllSessions(store, user.id) // the account was disabled
 * ```
 */
export function revokeAllSessions(
  store: SessionStore | CoatcheckStore | LegacyStore,
  userId: string | number,
): Promise<number> {
  const id = toUserId(userId)
  // The store as session() takes it: an express-session store is adapted, a mistake (a Redis client) named.
  return destroyUser(resolveStore(store), id)
}
