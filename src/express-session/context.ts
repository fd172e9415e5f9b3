import { createHash } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { serializeCookie } from '../core/cookie.ts'
import { parseData } from '../core/json.ts'
import { DROP_IN_FACE, warnSecureOverHttp } from '../core/request.ts'
import { storeCall } from '../core/store-call.ts'
import { firstFound, type Secret, shortId, sign, signedIds } from '../core/token.ts'
import { CoatcheckError } from '../errors.ts'
import { COOKIE_META, cookieMeta, cookieOf, dataOf, deadlinesOf, dropInRecord } from '../stores/legacy/format.ts'
import type { SessionMeta, SessionRecord, StoredData } from '../stores/types.ts'
import { Cookie, type CookieOptions, cookieAttributes } from './cookie.ts'
import { type DropInOptions, generateSessionId } from './options.ts'
import { Session, type SessionController } from './session.ts'

/** The request as express-session decorates it. */
export type DropInRequest = IncomingMessage & {
  session?: Session | null
  sessionID?: string
  sessionStore?: object
  secret?: string
}

/**
 * One request's session in drop-in mode. express-session's rules decide *whether* to save, touch or send the cookie
 * (its hash-based `isModified`, `resave`, `saveUninitialized`, `rolling`, `unset`); the engine's parts do the I/O: the
 * store contract with per-key patches, `guarded` calls (timeout, 503), events, the cookie signer and serializer.
 */
export class DropInContext implements SessionController {
  readonly #o: DropInOptions
  readonly #req: DropInRequest
  readonly #secrets: readonly Secret[]
  readonly #cookieOptions: CookieOptions
  /** The ID the request's cookie named (express-session's `cookieId`). */
  #cookieId: string | undefined
  #originalId: string | undefined
  #originalHash: string | undefined
  #savedHash: string | undefined
  /** The ID the store holds a record for, and that record's data (JSON per key) and meta as last read or written. */
  #storedId: string | undefined
  #stored = new Map<string, string>()
  #meta: SessionMeta = {}
  #touched = false
  /** The session's hash while `commit()` decides: the data cannot change in between, so it is computed once. */
  #committing: string | undefined
  /** The stored record vanished (destroyed elsewhere, expired): nothing is written, no cookie is sent. */
  #lost = false
  readonly #pending = new Set<Promise<unknown>>()
  /** The ID genid made for this request's new session (an app may assign `req.sessionID` itself). */
  #generated: string | undefined

  constructor(o: DropInOptions, req: DropInRequest, secrets: readonly Secret[], cookieOptions: CookieOptions) {
    this.#o = o
    this.#req = req
    this.#secrets = secrets
    this.#cookieOptions = cookieOptions
  }

  /** Loads the session the cookie names, or starts a new one. Synchronous (undefined) without a signed cookie. */
  load(): Promise<void> | undefined {
    const req = this.#req
    req.sessionStore = this.#o.given
    ;(req as { [DROP_IN_FACE]?: true })[DROP_IN_FACE] = true
    // Every signed ID (a few at most) is tried in order, so a stale cookie (another path, a planted one) does not
    // shadow a live one; express-session reads only the first cookie.
    const ids = signedIds(req.headers.cookie, this.#o.name, this.#secrets)
    this.#cookieId = req.sessionID = ids[0]
    if (ids.length === 0) {
      this.#generate()
      return undefined
    }
    return this.#loadFirstLive(ids)
  }

  async #loadFirstLive(ids: string[]): Promise<void> {
    const live = await firstFound(ids, (id) => this.#call(() => this.#o.store.get(id)))
    if (live === undefined) return this.#generate()
    const [id, record] = live
    const req = this.#req
    this.#cookieId = req.sessionID = id
    this.#adopt(id, record)
    this.#originalId = id
    this.#originalHash = hash(req.session!)
    if (!this.#o.resave) this.#savedHash = this.#originalHash
  }

  /** Decides and performs the end-of-request write; returns the Set-Cookie value, if one is due. */
  async commit(): Promise<string | undefined> {
    await Promise.allSettled(this.#pending)
    const req = this.#req
    const session = req.session
    if (!session) {
      const id = req.sessionID
      if (this.#o.unsetDestroy && id) await this.#call(() => this.#o.store.destroy(id))
      return undefined
    }
    if (!this.#touched) {
      session.touch()
      this.#touched = true
    }
    this.#committing = hash(session)
    try {
      if (this.#shouldSave(session)) await this.#write(session)
      else if (this.#o.canTouch && this.#shouldTouch(session)) await this.#touchStore(session)
      if (this.#lost || !this.#shouldSetCookie(session)) return undefined
    } finally {
      this.#committing = undefined
    }
    if (session.cookie.secure && !this.#o.isSecure(req)) {
      // express-session sends no cookie then, silently; the session seems not to work. Say why, once.
      warnSecureOverHttp(req, "app.set('trust proxy', …) or the `proxy` option")
      return undefined
    }
    try {
      const { attributes, secure, expires } = cookieAttributes(session.cookie)
      return serializeCookie(this.#o.name, sign(req.sessionID!, this.#secrets[0]!), attributes, secure, expires)
    } catch (error) {
      throw new CoatcheckError('INVALID_OPTION', `coatcheck: session cookie: ${String(error)}`, 500, { cause: error })
    }
  }

  save(session: Session): Promise<void> {
    return this.#track(this.#write(session))
  }

  reload(session: Session): Promise<void> {
    return this.#track(
      (async () => {
        const record = await this.#call(() => this.#o.store.get(session.id))
        if (record === undefined) throw new Error('failed to load session')
        this.#adopt(session.id, record)
      })(),
    )
  }

  destroy(session: Session): Promise<void> {
    delete this.#req.session
    return this.#track(
      (async () => {
        await this.#call(() => this.#o.store.destroy(session.id))
        if (this.#storedId === session.id) this.#storedId = undefined
        this.#o.emit({ type: 'destroyed', sid: shortId(session.id) })
      })(),
    )
  }

  regenerate(session: Session): Promise<void> {
    return this.#track(
      (async () => {
        // As express-session: the new session is made even when deleting the old one failed; the error is reported.
        const destroyed = this.#call(() => this.#o.store.destroy(session.id)).then(
          () => undefined,
          (error: unknown) => ({ error }),
        )
        const failed = await destroyed
        this.#fresh()
        this.#o.emit({ type: 'regenerated', sid: shortId(this.#req.sessionID!), previousSid: shortId(session.id) })
        if (failed) throw failed.error
      })(),
    )
  }

  #generate(): void {
    this.#fresh()
    this.#originalId = this.#req.sessionID
    this.#originalHash = hash(this.#req.session!)
  }

  /** A new, unsaved session under a new ID in `req.session`. */
  #fresh(): void {
    const req = this.#req
    req.sessionID = this.#o.genid(req)
    this.#generated = req.sessionID
    const session = new Session(req)
    session.cookie = this.#newCookie()
    req.session = session
    this.#storedId = undefined
    this.#stored = new Map()
    this.#meta = {}
  }

  #newCookie(): Cookie {
    const cookie = new Cookie(this.#cookieOptions)
    const secure = this.#o.isSecure(this.#req)
    if (this.#cookieOptions.secure === 'auto') cookie.secure = secure
    if (this.#cookieOptions.sameSite === 'auto') cookie.sameSite = secure ? 'none' : 'lax'
    return cookie
  }

  /** Makes `req.session` the stored session `id`: its data, and its cookie as the store describes it. */
  #adopt(id: string, record: SessionRecord): void {
    const { attributes, expires, originalMaxAge } = cookieOf(record)
    const cookie = attributes ? new Cookie(attributes as CookieOptions) : this.#newCookie()
    cookie.expires = expires
    cookie.originalMaxAge = originalMaxAge
    const session = new Session(this.#req, parseData(record.data))
    session.cookie = cookie
    this.#req.session = session
    this.#storedId = id
    this.#stored = new Map(Object.entries(record.data))
    this.#meta = record.meta
  }

  /** Stores the session: a new record, or a patch of the keys that changed plus the cookie's new deadline. */
  async #write(session: Session): Promise<void> {
    const id = session.id
    this.#savedHash = this.#hash(session)
    const data = dataOf(session)
    const now = Date.now()
    const cookieJson = cookieMeta(session.cookie.data)
    const meta: SessionMeta = { ...this.#meta, [COOKIE_META]: cookieJson }

    if (this.#storedId !== id) {
      const record = dropInRecord(data, session.cookie.data, this.#meta, now)
      // IDs from the default genid are 192 bits from the CSPRNG: a callback store need not read before it writes.
      const unique = this.#o.genid === generateSessionId && id === this.#generated
      if (!(await this.#call(() => this.#o.store.create(id, record, { unique })))) {
        throw new CoatcheckError('STORE_CONFLICT', 'coatcheck: a session with this ID already exists', 503)
      }
      this.#o.emit({ type: 'created', sid: shortId(id) })
    } else {
      const { lastSeenAt, expiresAt } = deadlinesOf(session.cookie, now)
      const set: StoredData = Object.create(null)
      for (const [key, json] of Object.entries(data)) if (this.#stored.get(key) !== json) set[key] = json
      const unset = [...this.#stored.keys()].filter((key) => !Object.hasOwn(data, key))
      const written = await this.#call(() =>
        this.#o.store.update(id, {
          ...(Object.keys(set).length > 0 && { set }),
          ...(unset.length > 0 && { unset }),
          ...(this.#meta[COOKIE_META] !== cookieJson && { meta }),
          lastSeenAt,
          expiresAt,
        }),
      )
      // Destroyed meanwhile (a logout racing this request) or expired: never resurrect it.
      if (!written) {
        this.#lost = true
        return
      }
    }
    this.#storedId = id
    this.#stored = new Map(Object.entries(data))
    this.#meta = meta
  }

  async #touchStore(session: Session): Promise<void> {
    const { lastSeenAt, expiresAt } = deadlinesOf(session.cookie, Date.now())
    if (!(await this.#call(() => this.#o.store.touch(session.id, lastSeenAt, expiresAt)))) this.#lost = true
  }

  #isModified(session: Session): boolean {
    return this.#originalId !== session.id || this.#originalHash !== this.#hash(session)
  }

  #isSaved(session: Session): boolean {
    return this.#originalId === session.id && this.#savedHash === this.#hash(session)
  }

  #shouldSave(session: Session): boolean {
    if (typeof this.#req.sessionID !== 'string') return false
    return !this.#o.saveUninitialized && !this.#savedHash && this.#cookieId !== this.#req.sessionID
      ? this.#isModified(session)
      : !this.#isSaved(session)
  }

  #shouldTouch(session: Session): boolean {
    if (typeof this.#req.sessionID !== 'string') return false
    return this.#cookieId === this.#req.sessionID && !this.#shouldSave(session)
  }

  #shouldSetCookie(session: Session): boolean {
    if (typeof this.#req.sessionID !== 'string') return false
    return this.#cookieId !== this.#req.sessionID
      ? this.#o.saveUninitialized || this.#isModified(session)
      : this.#o.rolling || (session.cookie.expires != null && this.#isModified(session))
  }

  #hash(session: Session): string {
    return this.#committing ?? hash(session)
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#pending.add(work)
    const forget = () => this.#pending.delete(work)
    work.then(forget, forget)
    return work
  }

  #call<T>(call: () => Promise<T>): Promise<T> {
    return storeCall(this.#o, call)
  }
}

/** express-session's change detection: a SHA-1 of the session's JSON without its cookie. */
function hash(session: Session): string {
  const json = JSON.stringify(session, function (this: unknown, key, value) {
    return this === session && key === 'cookie' ? undefined : value
  })
  return createHash('sha1').update(json, 'utf8').digest('hex')
}
