import type { IncomingMessage, ServerResponse } from 'node:http'
import { type CookieAttributes, rawCookieValues, serializeCookie } from '../core/cookie.ts'
import { parseData } from '../core/json.ts'
import { toUserId } from '../core/keys.ts'
import { isSecure } from '../core/request.ts'
import { storeCall } from '../core/store-call.ts'
import { firstFound, hashedKey, newToken, type Secret, shortId, sign, signedIds } from '../core/token.ts'
import { invalidOption } from '../errors.ts'
import { resolveOptions, type SessionOptions } from '../session/options.ts'
import { newRecord } from '../session/record.ts'
import { isLegacyStore, type LegacyStore, legacyStore, takeSession } from '../stores/legacy/adapter.ts'
import type { SessionStore, StoredData } from '../stores/types.ts'
import { fnOption, knownKeys } from '../validate.ts'

/** Options of {@link upgradeSessions}. */
export interface UpgradeOptions {
  /** The very options object given to modern `session()` (its `store` is required: the upgrade writes into it). */
  session: SessionOptions
  /** Where the express-session sessions live (keyed by raw ID): a callback store or a coatcheck store. Required. */
  store: LegacyStore | SessionStore
  /** express-session's secret(s). Required. */
  secret: Secret | readonly Secret[]
  /** express-session's cookie name. Default `connect.sid`. */
  name?: string
  /** express-session's cookie path, for expiring the old cookie. Default `/`. */
  path?: string
  /**
   * The logged-in user of an old session, from its data (null or undefined: nobody); the key it came from should then
   * be left out of the data (`userId` is reserved in modern mode). Default: `data.userId` when it is a non-empty
   * string or a non-zero integer (old apps used `0` and `''` for "nobody"). `data.userId` is dropped once a user is found.
   */
  userId?: (data: Record<string, unknown>) => string | null | undefined
}

/**
 * Moves a browser from drop-in mode to modern mode on its first request: mount it just before modern `session()`.
 * A request that carries no valid modern cookie but a valid express-session cookie whose session is still stored
 * gets that session re-issued as a modern one: a new 256-bit token whose SHA-256 is the key of a new record (data
 * carried over, `userId` mapped to the user), the old raw-ID record deleted, the new cookie set and the old one
 * expired. `session()` then loads the new session on this very request. Anything else passes through untouched.
 *
 * @example
 * ```ts
 * const options = { secret: process.env.SESSION_SECRET!, store: await postgresStore({ pool }) }
 * app.use(upgradeSessions({ session: options, store: new RedisStore({ client }), secret: 'keyboard cat' }))
 * app.use(session(options))
 * ```
 */
export function upgradeSessions(
  options: UpgradeOptions,
): (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void {
  knownKeys('upgradeSessions()', options, ['session', 'store', 'secret', 'name', 'path', 'userId'])
  if (options?.session?.store === undefined) throw invalidOption('session.store', 'is required to upgrade sessions')
  const o = resolveOptions(options.session)
  if (options.store === undefined) throw invalidOption('store', 'must hold the express-session sessions')
  // The same callback store on both sides is adapted once, so its calls on one key stay serialized.
  const old =
    options.store === options.session.store
      ? o.store
      : isLegacyStore(options.store)
        ? legacyStore(options.store)
        : options.store
  const secrets = Array.isArray(options.secret) ? options.secret : [options.secret as Secret]
  if (secrets.length === 0 || !secrets.every(Boolean)) throw invalidOption('secret', 'must be express-session’s secret')
  const name = options.name ?? 'connect.sid'
  const path = options.path ?? '/'
  const userOf = fnOption('userId', options.userId, defaultUser)
  const call = <T>(work: () => Promise<T>) => storeCall(o, work)

  async function upgrade(
    req: IncomingMessage,
    res: ServerResponse,
    ids: string[],
    secure: boolean,
    cookieName: string,
  ) {
    // The first live one of the signed IDs, as the drop-in face picks it.
    const live = await firstFound(ids, (id) => call(() => old.get(id)))
    if (live === undefined) return
    const [id, found] = live
    const data: StoredData = { ...found.data }
    const mapped = userOf(parseData(data))
    const user = mapped === undefined || mapped === null ? null : toUserId(mapped)
    if (user !== null) delete data.userId
    const now = o.now()
    const record = newRecord(o, now, { data, userId: user, meta: {} })
    const token = newToken()
    const key = hashedKey(token)
    if (!(await call(() => o.store.create(key, record)))) return
    // Two requests with one old cookie both read it: only the one whose delete found it live moves it, so one old
    // session becomes one modern session (a logout with it then ends the user's only one). The other undoes its copy.
    // A delete that cannot tell (a callback store's read failed) keeps the copy: it is now the only one.
    if ((await call(() => takeSession(old, id))) === false) {
      await call(() => o.store.destroy(key))
      return
    }
    o.emit({ type: 'regenerated', sid: shortId(key), previousSid: shortId(id) })

    const signed = sign(token, o.secrets[0]!)
    const rest = (req.headers.cookie ?? '')
      .split(';')
      .filter((pair) => {
        const n = pair.slice(0, pair.indexOf('=')).trim()
        return n !== name && n !== cookieName
      })
      .join(';')
    req.headers.cookie = `${cookieName}=${encodeURIComponent(signed)}${rest ? `;${rest}` : ''}`
    const maxAge = Math.ceil((record.expiresAt - now) / 1000)
    res.appendHeader('Set-Cookie', serializeCookie(cookieName, signed, o.cookie, secure, maxAge))
    const expired: CookieAttributes = {
      path,
      domain: undefined,
      httpOnly: true,
      sameSite: false,
      partitioned: false,
      priority: undefined,
    }
    res.appendHeader('Set-Cookie', serializeCookie(name, '', expired, false, 0))
  }

  return function upgradeExpressSession(req, res, next) {
    const secure = o.secure === 'auto' ? isSecure(req, o.trust) : o.secure
    const cookieName = secure ? o.names.secure : o.names.plain
    const header = req.headers.cookie
    // A request with a valid modern cookie is past the upgrade; the check is the middleware's own, remembered one.
    if (rawCookieValues(header, cookieName).some((value) => o.cookies.verify(value) !== undefined)) return next()
    const ids = signedIds(header, name, secrets)
    if (ids.length === 0) return next()
    upgrade(req, res, ids, secure, cookieName).then(() => next(), next)
  }
}

/**
 * `data.userId` when it names someone: a non-empty string or a non-zero integer. Old apps stored `0`, `''` or null
 * to mean "nobody".
 */
function defaultUser(data: Record<string, unknown>): string | undefined {
  const { userId } = data
  if (typeof userId === 'string' && userId !== '') return userId
  if (typeof userId === 'number' && Number.isSafeInteger(userId) && userId !== 0) return String(userId)
  return undefined
}
