import type { IncomingMessage } from 'node:http'
import { MAX_SESSION_COOKIES, rawCookieValues, serializeCookie } from '../core/cookie.ts'
import { isSecure, warnSecureOverHttp } from '../core/request.ts'
import { storeCall } from '../core/store-call.ts'
import { hashedKey, newToken, shortId, sign, type Verified } from '../core/token.ts'
import { CoatcheckError } from '../errors.ts'
import type { SessionEvent } from '../events.ts'
import { peekSession, type SessionPeek } from '../stores/peek.ts'
import type { SessionMeta, SessionRecord } from '../stores/types.ts'
import { SessionDataTracker } from './data.ts'
import { checkLimits } from './limits.ts'
import type { ResolvedOptions } from './options.ts'
import { type Carried, cookieMaxAge, type Deadlines, expiryOf, newRecord, slidDeadline, touchDue } from './record.ts'
import type { Callback, RegenerateOptions } from './types.ts'

/** Options of {@link SessionContext.rotate}. */
export interface RotateOptions {
  /**
   * What the new ID takes over, from a session that is still live: `'nothing'`; `'data'` (a login keeping the cart);
   * or `'session'`: data, user, meta, creation time and absolute deadline (the same session under a new ID).
   */
  carry: 'nothing' | 'data' | 'session'
  /** Log this user in on the new ID. */
  user?: { id: string; meta: SessionMeta }
}

/**
 * One request's session: loads it, backs the methods of `req.session`, and writes what changed when the response is
 * about to leave. `req.session` is this context's data proxy; the proxy resolves reserved names (`id`, `save`...) to
 * the members of this class. Every store write of a request runs after the one before it, so an unawaited `save()`
 * can never undo a later login or regenerate.
 * @internal
 */
export class SessionContext {
  /** Whether this response's cookie is Secure. */
  readonly secure: boolean
  /** The cookie name that matches `secure`. */
  readonly cookieName: string
  readonly #o: ResolvedOptions
  readonly #req: IncomingMessage
  #data!: SessionDataTracker
  #token: string | undefined
  #key: string | undefined
  /** The stored deadlines; undefined while the session is new (not in the store). */
  #stored: Deadlines | undefined
  #userId: string | null = null
  #meta: SessionMeta = {}
  /** The request carried a validly signed cookie, which must be cleared if no session ends up stored. */
  #presented = false
  /** A new deadline reached the store, so the cookie must be (re)sent with the matching Max-Age. */
  #deadlineWritten = false
  #forceTouch = false
  /** `meta` changed since the last write (a CSRF secret, say): the next write of a stored session carries it. */
  #metaChanged = false
  /** Other cookies the response must carry (remember-me, CSRF), sent with the commit. */
  #cookies: string[] | undefined
  /** Work that must happen only once the session is stored (a remember-me rotation), run by the commit. */
  #afterWrite: Array<() => Promise<string | undefined>> | undefined
  /** The tail of this request's store writes: each runs after the one before it (none yet on most requests). */
  #queue: Promise<unknown> | undefined
  /** The deadlines a new ID of the same session keeps (`regenerate({ keep })`): a new ID is not a new login. */
  #carried: Carried | undefined
  #loggedInHere = false
  /** Run once when the session first may need a commit (see `onceDirty`). */
  #whenDirty: (() => void) | undefined

  constructor(o: ResolvedOptions, req: IncomingMessage) {
    this.#o = o
    this.#req = req
    this.secure = o.secure === 'auto' ? isSecure(req, o.trust) : o.secure
    this.cookieName = this.secure ? o.names.secure : o.names.plain
  }

  // The members of `req.session` (see `SessionMembers`).

  /** The session's store key (the SHA-256 of its cookie token; never the token itself). */
  get id(): string {
    if (this.#key === undefined) this.#assignToken()
    return this.#key!
  }

  /** The logged-in user, or null. */
  get userId(): string | null {
    return this.#userId
  }

  regenerate(options?: RegenerateOptions | Callback, callback?: Callback): Promise<void> {
    const cb = typeof options === 'function' ? options : callback
    const keep = typeof options === 'object' && options?.keep === true
    return withCallback(this.rotate({ carry: keep ? 'session' : 'nothing' }), cb)
  }

  destroy(callback?: Callback): Promise<void> {
    return withCallback(
      this.#serial(() => this.#destroy()),
      callback,
    )
  }

  save(callback?: Callback): Promise<void> {
    return withCallback(this.#persist(), callback)
  }

  reload(callback?: Callback): Promise<void> {
    return withCallback(
      this.#serial(() => this.#reload()),
      callback,
    )
  }

  touch(callback?: Callback): Promise<void> {
    this.#forceTouch = true
    this.#mayNeedCommit()
    return withCallback(this.#persist(), callback)
  }

  // Primitives for login, logout and devices (`auth/`).

  /** The store key of the stored session, or undefined while the session is new. */
  get storedKey(): string | undefined {
    return this.#stored === undefined ? undefined : this.#key
  }

  /** The stored session's times, or undefined while the session is new. */
  get deadlines(): Readonly<Deadlines> | undefined {
    return this.#stored
  }

  /** Facts about the session that are not user data (auth time, login IP, user agent). */
  get meta(): Readonly<SessionMeta> {
    return this.#meta
  }

  /** The middleware's resolved options. */
  get options(): ResolvedOptions {
    return this.#o
  }

  /**
   * Sets one meta entry (a fact about the session that is not app data). A stored session writes it with its next
   * patch; a new one only if something else makes it stored, so meta alone never stores an anonymous session.
   */
  setMeta(name: string, value: SessionMeta[string]): void {
    if (this.#meta[name] === value) return
    this.#meta = { ...this.#meta, [name]: value }
    this.#metaChanged = true
    this.#mayNeedCommit()
  }

  /**
   * Adds a Set-Cookie value (remember-me, CSRF) that the response carries with the session's own: appended when the
   * response is released, after the app's own headers, and dropped with the rest when the commit fails.
   */
  queueCookie(value: string): void {
    if (this.#cookies === undefined) this.#cookies = [value]
    else this.#cookies.push(value)
    this.#mayNeedCommit()
  }

  /**
   * Runs `work` in the commit, once the session's own write succeeded; a cookie it resolves goes with the response.
   * A rejection fails the commit (a 503). For state outside the session that must change only if the session was
   * stored, such as rotating a remember-me validator the browser must receive.
   */
  afterWrite(work: () => Promise<string | undefined>): void {
    if (this.#afterWrite === undefined) this.#afterWrite = [work]
    else this.#afterWrite.push(work)
    this.#mayNeedCommit()
  }

  /**
   * True once `logIn` (a password login) succeeded on this request; a remember-me restore does not count, so it can
   * never clear a login throttle.
   */
  get loggedInHere(): boolean {
    return this.#loggedInHere
  }

  /** Notes that `logIn` succeeded on this request (see `loggedInHere`). */
  notePasswordLogin(): void {
    this.#loggedInHere = true
  }

  /**
   * Gives the session a new ID; the old record is deleted. Carries over only from a record that was still live when
   * it was deleted, so a request that loaded its session before a revocation cannot bring the user back.
   */
  rotate(options: RotateOptions): Promise<void> {
    return this.#serial(() => this.#rotate(options))
  }

  /** Writes pending changes now (after any write already in progress). */
  persist(): Promise<void> {
    return this.#persist()
  }

  /** One guarded store call (deadline, 503 on failure, `store-error` event). */
  call<T>(work: () => Promise<T>): Promise<T> {
    return storeCall(this.#o, work)
  }

  /** True when a record read from the store has expired by the engine's rules. */
  isExpired(record: SessionRecord): boolean {
    return expiryOf(record, this.#o.now(), this.#o) !== undefined
  }

  /** Publishes an event through the middleware's channels and `onEvent`. */
  emit(event: SessionEvent): void {
    this.#o.emit(event)
  }

  // The request's lifecycle (`middleware.ts`).

  /**
   * Loads the session named by the request's cookie into `req.session` (a new, empty session when there is none).
   * Synchronous (undefined) when there is no signed cookie, or when the store can answer at once (`peekSession`).
   */
  load(): Promise<void> | undefined {
    let verified: Verified[] | undefined
    // False when more distinct verified cookies came than are tried: then none is expired, even if all tried were stale
    // (three planted stale ones must not make the response delete the valid fourth).
    let everyOne = true
    for (const value of rawCookieValues(this.#req.headers.cookie, this.cookieName)) {
      const found = this.#o.cookies.verify(value)
      if (found === undefined) continue
      if (verified === undefined) verified = [found]
      else if (verified.some((v) => v.key === found.key)) continue
      else if (verified.length >= MAX_SESSION_COOKIES) {
        everyOne = false
        break
      } else verified.push(found)
    }
    if (verified === undefined) {
      this.#startNew({})
      return undefined
    }
    let loaded: Promise<void>
    const peek = peekSession(this.#o.store)
    if (peek === undefined) loaded = this.#load(verified, everyOne)
    else {
      const failed = this.#loadNow(verified, everyOne, peek)
      if (failed === undefined) return undefined
      // A store that threw at once is reported as every failed call is (503, `store-error`), without reading again:
      // a locked SQLite file would block the thread a second time.
      loaded = this.call(() => Promise.reject(failed.error))
    }
    return loaded.catch((error: unknown) => {
      this.#startNew({}) // error handlers still find a (new, empty) req.session
      throw error
    })
  }

  /**
   * Runs `fn` once, as soon as the session may need a commit: now when it already may (a touch is due, a stale cookie
   * must be cleared), otherwise at the first change. Read-only requests never run it, so their response is left alone.
   */
  onceDirty(fn: () => void): void {
    if (this.needsCommit()) fn()
    else this.#whenDirty = fn
  }

  /** The data tracker's signal that a key may have changed. */
  dataChanged(): void {
    this.#mayNeedCommit()
  }

  /** False when `commit()` would certainly write nothing and set no cookie (most read-only requests). */
  needsCommit(): boolean {
    if (this.#deadlineWritten || this.#forceTouch || this.#metaChanged || this.#cookies || this.#afterWrite) return true
    if (this.#data.mayHaveChanged()) return true
    const stored = this.#stored
    if (stored === undefined) return this.#presented || this.#userId !== null
    return touchDue(stored, this.#o.now(), this.#o)
  }

  /** Writes what changed and returns the Set-Cookie values the response needs, if any. */
  async commit(): Promise<string[] | undefined> {
    await this.#persist()
    const after = this.#afterWrite
    this.#afterWrite = undefined
    for (const work of after ?? []) {
      const cookie = await work()
      if (cookie !== undefined) this.queueCookie(cookie)
    }
    const session = this.#sessionCookie()
    const others = this.#cookies
    this.#cookies = undefined
    if (others === undefined) return session === undefined ? undefined : [session]
    return session === undefined ? others : [session, ...others]
  }

  #sessionCookie(): string | undefined {
    const o = this.#o
    if (this.#deadlineWritten) {
      this.#deadlineWritten = false
      if (this.secure && o.secure === true && !isSecure(this.#req, o.trust)) warnSecureOverHttp(this.#req, 'trustProxy')
      const maxAge = cookieMaxAge(this.#stored!.expiresAt, o.now())
      return serializeCookie(this.cookieName, sign(this.#token!, o.secrets[0]!), o.cookie, this.secure, maxAge)
    }
    if (this.#presented && this.#stored === undefined) {
      this.#presented = false
      return serializeCookie(this.cookieName, '', o.cookie, this.secure, 0)
    }
    return undefined
  }

  /**
   * Adopts the first verified cookie whose record is live. Several cookies of one name reach us when a browser holds
   * them for different paths or a sibling subdomain planted one: a stale one must not shadow the valid one, and the
   * cookie is expired only when every one of them proved stale (`everyOne`: no verified cookie was left untried).
   */
  async #load(verified: Verified[], everyOne: boolean): Promise<void> {
    this.#presented = everyOne
    for (const { token, key } of verified) {
      const record = await this.call(() => this.#o.store.get(key))
      if (record !== undefined && this.#tryAdopt(token, key, record)) return
    }
    this.#startNew({})
  }

  /**
   * `#load` for a store that answers in this tick (memory, SQLite): no promise, no watchdog, `next()` in the same
   * turn. Undefined when loaded; what the store threw otherwise, for `load()` to report.
   */
  #loadNow(verified: Verified[], everyOne: boolean, peek: SessionPeek): { error: unknown } | undefined {
    this.#presented = everyOne
    for (const { token, key } of verified) {
      let record: SessionRecord | undefined
      try {
        record = peek(key)
      } catch (error) {
        return { error }
      }
      if (record !== undefined && this.#tryAdopt(token, key, record)) return undefined
    }
    this.#startNew({})
    return undefined
  }

  /** Adopts `record` unless it has expired by the engine's rules; an expired one is destroyed off the request path. */
  #tryAdopt(token: string, key: string, record: SessionRecord): boolean {
    const reason = expiryOf(record, this.#o.now(), this.#o)
    if (!reason) {
      this.#adopt(token, key, record)
      return true
    }
    this.emit({ type: 'expired', sid: shortId(key), reason })
    // Best effort: the deadline check already refuses the record, and the store's own expiry is the backstop.
    this.call(() => this.#o.store.destroy(key)).catch(() => {})
    return false
  }

  #adopt(token: string, key: string, record: SessionRecord): void {
    this.#token = token
    this.#key = key
    this.#stored = {
      createdAt: record.createdAt,
      lastSeenAt: record.lastSeenAt,
      expiresAt: record.expiresAt,
      absoluteExpiresAt: record.absoluteExpiresAt,
    }
    this.#userId = record.userId
    this.#meta = record.meta
    this.#data = new SessionDataTracker(record.data, this)
    this.#publish()
  }

  async #rotate({ carry, user }: RotateOptions): Promise<void> {
    const previous = this.storedKey
    const stored = this.#stored
    const taken = carry === 'nothing' ? {} : this.#data.snapshot()
    const carriedBytes = carry === 'nothing' ? 0 : this.#data.storedBytes()
    const same = carry === 'session'
    const userId = same ? this.#userId : null
    // A new ID is a privilege change: the CSRF secret does not come along.
    const { csrf: _csrf, ...meta } = same ? this.#meta : {}
    const carried = same ? (stored ?? this.#carried) : undefined
    try {
      // The same session under a new ID is stored before the old one goes, so a revocation that runs in between finds
      // one of them; the old one must still have been live, or the new one goes too.
      let live = true
      if (previous !== undefined && !same) live = await this.call(() => this.#o.store.destroy(previous))
      this.#startNew(live ? taken : {}, live ? carriedBytes : 0)
      if (same && live) {
        this.#userId = userId
        this.#meta = meta
        this.#carried = carried && { createdAt: carried.createdAt, absoluteExpiresAt: carried.absoluteExpiresAt }
      }
      if (user) {
        this.#userId = user.id
        this.#meta = user.meta
      }
      this.emit({ type: 'regenerated', sid: shortId(this.id), ...(previous && { previousSid: shortId(previous) }) })
      if (same && previous !== undefined) {
        await this.#write()
        if (!(await this.call(() => this.#o.store.destroy(previous)))) await this.#undo()
      }
      if (user) await this.#write()
    } catch (error) {
      // Fail closed: a rotation that did not finish must not leave a user for the commit to store after all.
      await this.#undo().catch(() => {})
      throw error
    }
  }

  /** Drops the session this request created (best effort) and starts an empty, anonymous one. */
  async #undo(): Promise<void> {
    const created = this.storedKey
    this.#startNew({})
    this.#presented = false // the old record moved or was revoked; the browser's current cookie is not ours to clear
    if (created !== undefined) await this.call(() => this.#o.store.destroy(created))
  }

  async #destroy(): Promise<void> {
    const key = this.storedKey
    if (key !== undefined) {
      await this.call(() => this.#o.store.destroy(key))
      this.emit({ type: 'destroyed', sid: shortId(key) })
    }
    this.#startNew({})
  }

  async #reload(): Promise<void> {
    const key = this.storedKey
    if (key === undefined) return
    const record = await this.call(() => this.#o.store.get(key))
    if (record && !expiryOf(record, this.#o.now(), this.#o)) this.#adopt(this.#token!, key, record)
    else this.#startNew({})
  }

  /** Runs `work` after every earlier write of this request, whether that one failed or not. */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = (this.#queue ?? Promise.resolve()).then(work, work)
    this.#queue = run.catch(() => {})
    return run
  }

  #persist(): Promise<void> {
    return this.#serial(() => this.#write())
  }

  async #write(): Promise<void> {
    const o = this.#o
    const diff = this.#data.diff()
    checkLimits(diff, o, this.#data)
    const now = o.now()
    const stored = this.#stored
    if (stored === undefined) {
      if (!diff.changed && this.#userId === null) return
      const meta = this.#meta
      const record = newRecord(o, now, { data: diff.set, userId: this.#userId, meta }, this.#carried)
      const key = this.id
      // The key is 256 bits from the CSPRNG: a store that would read before it writes need not.
      if (!(await this.call(() => o.store.create(key, record, { unique: true })))) {
        throw new CoatcheckError('STORE_CONFLICT', 'coatcheck: a session with this key already exists', 503)
      }
      this.#data.written(diff)
      this.#forceTouch = false
      if (this.#meta === meta) this.#metaChanged = false
      this.#stored = record
      this.#deadlineWritten = true
      this.#mayNeedCommit()
      this.emit({ type: 'created', sid: shortId(key) })
      return
    }

    const due = this.#forceTouch || touchDue(stored, now, o)
    const meta = this.#metaChanged ? this.#meta : undefined
    if (!diff.changed && !due && !meta) return
    const key = this.#key!
    const expiresAt = slidDeadline(stored, now, o)
    const written =
      diff.changed || meta
        ? await this.call(() =>
            o.store.update(key, {
              ...(Object.keys(diff.set).length > 0 && { set: diff.set, maxBytes: o.maxBytes }),
              ...(diff.unset.length > 0 && { unset: diff.unset }),
              ...(meta && { meta }),
              ...(due && { lastSeenAt: now, expiresAt }),
            }),
          )
        : await this.call(() => o.store.touch(key, now, expiresAt))
    // The record was destroyed meanwhile (a logout racing this request): never resurrect it. Nor expire the cookie:
    // a concurrent regenerate may have handed the browser a new one under the same name, and this request proved
    // nothing about that one.
    if (!written) {
      this.#startNew({})
      this.#presented = false
      return
    }
    this.#data.written(diff)
    this.#forceTouch = false
    if (this.#meta === meta) this.#metaChanged = false
    if (due) {
      this.#deadlineWritten = this.#deadlineWritten || expiresAt !== stored.expiresAt
      stored.lastSeenAt = now
      stored.expiresAt = expiresAt
      if (this.#deadlineWritten) this.#mayNeedCommit()
    }
  }

  /** Replaces the session with a new one that is not stored yet, holding `values` (carried from `carriedBytes`). */
  #startNew(values: Record<string, unknown>, carriedBytes = 0): void {
    this.#token = undefined
    this.#key = undefined
    this.#stored = undefined
    this.#carried = undefined
    this.#userId = null
    this.#meta = {}
    this.#metaChanged = false
    this.#deadlineWritten = false
    this.#data = SessionDataTracker.withValues(values, this, carriedBytes)
    this.#publish()
    this.#mayNeedCommit()
  }

  #mayNeedCommit(): void {
    const fn = this.#whenDirty
    this.#whenDirty = undefined
    fn?.()
  }

  #assignToken(): void {
    this.#token = newToken()
    this.#key = hashedKey(this.#token)
  }

  #publish(): void {
    ;(this.#req as { session?: unknown }).session = this.#data.proxy
  }
}

/**
 * The promise of a session method, also reported to an express-session style callback when one is given. A caller
 * that neither awaits nor passes a callback (`req.session.save()` on its own) must not crash the process on a store
 * failure: the commit retries the write and answers 503 if it fails again.
 */
function withCallback(work: Promise<void>, callback: Callback | undefined): Promise<void> {
  if (!callback) {
    work.catch(() => {})
    return work
  }
  return work.then(
    () => callback(),
    (error: unknown) => callback(error),
  )
}
