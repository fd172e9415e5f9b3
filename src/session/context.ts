import type { IncomingMessage } from 'node:http'
import { rawCookieValues, serializeCookie } from '../core/cookie.ts'
import { isSecure } from '../core/request.ts'
import { storeCall } from '../core/store-call.ts'
import { hashedKey, newToken, shortId, sign } from '../core/token.ts'
import { CoatcheckError } from '../errors.ts'
import type { SessionEvent } from '../events.ts'
import type { SessionEntry, SessionMeta, SessionRecord } from '../stores/types.ts'
import { destroyUser } from '../stores/user.ts'
import { type DataDiff, SessionDataTracker } from './data.ts'
import type { ResolvedOptions } from './options.ts'

/** Node-style callback accepted by every session method besides the returned promise. */
export type Callback = (error?: unknown) => void

/** Options of `regenerate()`. */
export interface RegenerateOptions {
  /** Carry the data (and user) over to the new ID. Default false: the new session starts empty. */
  keep?: boolean
}

type Deadlines = Pick<SessionRecord, 'createdAt' | 'lastSeenAt' | 'expiresAt' | 'absoluteExpiresAt'>

/**
 * One request's session: loads it, backs the methods of `req.session`, and writes what changed when the response
 * is about to leave. `req.session` is this context's data proxy; the proxy resolves reserved names (`id`, `save`...)
 * to the members of this class.
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
  /** The write in progress: writes run one at a time, so two of them never store the same change twice. */
  #writing: Promise<void> | undefined
  /** The deadlines a kept session carries into its new ID (`regenerate({ keep })`): a new ID is not a new login. */
  #carried: Pick<SessionRecord, 'createdAt' | 'absoluteExpiresAt'> | undefined
  /** `logIn` ran during this request. */
  #loggedIn = false
  /** Run once when the session first may need a commit (see `onceDirty`). */
  #whenDirty: (() => void) | undefined

  constructor(o: ResolvedOptions, req: IncomingMessage) {
    this.#o = o
    this.#req = req
    this.secure = o.secure === 'auto' ? isSecure(req, o.trust) : o.secure
    this.cookieName = this.secure ? o.names.secure : o.names.plain
  }

  /** The session's store key (the SHA-256 of its cookie token; never the token itself). */
  get id(): string {
    if (this.#key === undefined) this.#assignToken()
    return this.#key!
  }

  /** The logged-in user, or null. */
  get userId(): string | null {
    return this.#userId
  }

  /** Gives the session a new ID: the old record is deleted; data and user are carried over only with `keep`. */
  regenerate(options?: RegenerateOptions | Callback, callback?: Callback): Promise<void> {
    const cb = typeof options === 'function' ? options : callback
    const keep = typeof options === 'object' && options?.keep === true
    return settle(this.#regenerate(keep, keep), cb)
  }

  /** Deletes the session from the store; the response expires the cookie. `req.session` becomes a new, empty one. */
  destroy(callback?: Callback): Promise<void> {
    return settle(this.#destroy(), callback)
  }

  /** Writes pending changes now instead of when the response leaves. */
  save(callback?: Callback): Promise<void> {
    return settle(this.#persist(), callback)
  }

  /** Re-reads the session from the store, dropping unsaved changes; a session gone meanwhile becomes a new one. */
  reload(callback?: Callback): Promise<void> {
    return settle(this.#reload(), callback)
  }

  /** Writes activity now (and slides the idle deadline when `rolling`), even if a lazy touch is not yet due. */
  touch(callback?: Callback): Promise<void> {
    this.#forceTouch = true
    this.#dirty()
    return settle(this.#persist(), callback)
  }

  /** The store key of the stored session, or undefined while the session is new. */
  get storedKey(): string | undefined {
    return this.#stored === undefined ? undefined : this.#key
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
   * Logs `userId` in: a new ID (the old record is deleted), data carried over only when `keep` and no other user was
   * logged in, and the session stored at once so the caller learns of a store failure.
   */
  async logIn(userId: string, meta: SessionMeta, keep: boolean): Promise<void> {
    const carry = keep && (this.#userId === null || this.#userId === userId)
    await this.#regenerate(carry, false)
    this.#userId = userId
    this.#meta = meta
    await this.#persist()
    this.#loggedIn = true
    this.emit({ type: 'login', sid: shortId(this.id) })
  }

  /** True once `logIn` succeeded during this request. */
  get loggedInHere(): boolean {
    return this.#loggedIn
  }

  /** The live sessions of the logged-in user (none when anonymous). */
  async sessionsOfUser(): Promise<SessionEntry[]> {
    const userId = this.#userId
    if (userId === null) return []
    const entries = await this.#call(() => this.#o.store.listByUser(userId))
    return entries.filter((entry) => entry.record.userId === userId && !this.#expiry(entry.record))
  }

  /** Deletes the record under `key`; when it is this request's own session, as `destroy()` does. */
  async destroyKey(key: string): Promise<void> {
    if (key === this.storedKey) return this.#destroy()
    await this.#call(() => this.#o.store.destroy(key))
  }

  /**
   * Deletes the logged-in user's sessions: every other one, giving this one a new ID (`keepCurrent`), or all of
   * them, this one included, with the user's remember-me tokens (as `revokeAllSessions` does). Resolves how many
   * records went.
   */
  async revokeUserSessions(keepCurrent: boolean): Promise<number> {
    const userId = this.#userId
    if (userId === null) return 0
    const current = this.storedKey
    if (!keepCurrent) {
      const removed = await this.#call(() => destroyUser(this.#o.store, userId))
      if (current !== undefined) this.emit({ type: 'destroyed', sid: shortId(current) })
      this.#startNew({})
      return removed
    }
    const removed = await this.#call(() => this.#o.store.destroyByUser(userId, current))
    await this.#regenerate(true, true)
    await this.#persist()
    return removed
  }

  /** Publishes an event through the middleware's channels and `onEvent`. */
  emit(event: SessionEvent): void {
    this.#o.emit(event)
  }

  /**
   * Loads the session named by the request's cookie into `req.session` (a new, empty session when there is none).
   * Synchronous (undefined) when there is no signed cookie.
   */
  load(): Promise<void> | undefined {
    for (const value of rawCookieValues(this.#req.headers.cookie, this.cookieName)) {
      const verified = this.#o.cookies.verify(value)
      if (verified !== undefined) {
        return this.#load(verified.token, verified.key).catch((error: unknown) => {
          this.#startNew({}) // error handlers still find a (new, empty) req.session
          throw error
        })
      }
    }
    this.#startNew({})
    return undefined
  }

  /**
   * Runs `fn` once, as soon as the session may need a commit: now when it already may (a touch is due, a stale cookie
   * must be cleared), otherwise at the first change. Read-only requests never run it, so their response is left alone.
   */
  onceDirty(fn: () => void): void {
    if (this.needsCommit()) fn()
    else this.#whenDirty = fn
  }

  /** The data tracker's signal that a key was touched. */
  dataTouched(): void {
    this.#dirty()
  }

  #dirty(): void {
    const fn = this.#whenDirty
    this.#whenDirty = undefined
    fn?.()
  }

  /** False when `commit()` would certainly write nothing and set no cookie (most read-only requests). */
  needsCommit(): boolean {
    if (this.#deadlineWritten || this.#forceTouch || this.#data.mayHaveChanged()) return true
    const stored = this.#stored
    if (stored === undefined) return this.#presented || this.#userId !== null
    return this.#o.rolling && this.#o.now() - stored.lastSeenAt >= this.#o.touchAfter
  }

  /** Writes what changed and returns the Set-Cookie value the response needs, if any. */
  async commit(): Promise<string | undefined> {
    await this.#persist()
    const o = this.#o
    if (this.#deadlineWritten) {
      this.#deadlineWritten = false
      const maxAge = Math.max(1, Math.ceil((this.#stored!.expiresAt - o.now()) / 1000))
      return serializeCookie(this.cookieName, sign(this.#token!, o.secrets[0]!), o.cookie, this.secure, maxAge)
    }
    if (this.#presented && this.#stored === undefined) {
      this.#presented = false
      return serializeCookie(this.cookieName, '', o.cookie, this.secure, 0)
    }
    return undefined
  }

  async #load(token: string, key: string): Promise<void> {
    this.#presented = true
    const record = await this.#call(() => this.#o.store.get(key))
    const reason = record && this.#expiry(record)
    if (record && !reason) return this.#adopt(token, key, record)
    this.#startNew({})
    if (reason) {
      this.emit({ type: 'expired', sid: shortId(key), reason })
      // Best effort, off the request's path: the deadline check already refuses the record, and the store's own
      // expiry is the backstop.
      this.#call(() => this.#o.store.destroy(key)).catch(() => {})
    }
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

  #expiry(record: SessionRecord): 'idle' | 'absolute' | undefined {
    const { absoluteTimeout, idleTimeout } = this.#o
    const now = this.#o.now()
    if (now >= Math.min(record.absoluteExpiresAt, record.createdAt + absoluteTimeout)) return 'absolute'
    if (now >= Math.min(record.expiresAt, record.lastSeenAt + idleTimeout)) return 'idle'
    return undefined
  }

  /** A new ID; `keep` carries data and user over, `keepDeadlines` the creation time and absolute deadline. */
  async #regenerate(keep: boolean, keepDeadlines: boolean): Promise<void> {
    const previous = this.#key
    const stored = this.#stored
    if (previous !== undefined && stored !== undefined) await this.#call(() => this.#o.store.destroy(previous))
    const userId = keep ? this.#userId : null
    const meta = keep ? this.#meta : {}
    const carried = keepDeadlines ? (stored ?? this.#carried) : undefined
    this.#startNew(keep ? this.#data.snapshot() : {})
    this.#userId = userId
    this.#meta = meta
    this.#carried = carried && { createdAt: carried.createdAt, absoluteExpiresAt: carried.absoluteExpiresAt }
    this.emit({ type: 'regenerated', sid: shortId(this.id), ...(previous && { previousSid: shortId(previous) }) })
  }

  async #destroy(): Promise<void> {
    const key = this.#key
    if (key !== undefined && this.#stored !== undefined) {
      await this.#call(() => this.#o.store.destroy(key))
      this.emit({ type: 'destroyed', sid: shortId(key) })
    }
    this.#startNew({})
  }

  async #reload(): Promise<void> {
    const key = this.#key
    if (key === undefined || this.#stored === undefined) return
    const record = await this.#call(() => this.#o.store.get(key))
    if (record && !this.#expiry(record)) this.#adopt(this.#token!, key, record)
    else this.#startNew({})
  }

  /** Writes what changed, after any write already in progress (an unawaited `save()` racing the commit, say). */
  #persist(): Promise<void> {
    const write = (this.#writing ?? Promise.resolve()).catch(() => {}).then(() => this.#write())
    this.#writing = write
    return write
  }

  async #write(): Promise<void> {
    const o = this.#o
    const diff = this.#data.diff()
    if (diff.bytes > o.maxBytes) {
      throw new CoatcheckError(
        'SESSION_TOO_LARGE',
        `coatcheck: session of ${diff.bytes} bytes exceeds maxBytes (${o.maxBytes})`,
        500,
      )
    }
    const now = o.now()
    const stored = this.#stored
    if (stored === undefined) return this.#create(diff, now)

    const touchDue = this.#forceTouch || (o.rolling && now - stored.lastSeenAt >= o.touchAfter)
    if (!diff.changed && !touchDue) return
    const key = this.#key!
    const expiresAt = o.rolling ? Math.min(now + o.idleTimeout, stored.absoluteExpiresAt) : stored.expiresAt
    const written = diff.changed
      ? await this.#call(() =>
          o.store.update(key, {
            ...(Object.keys(diff.set).length > 0 && { set: diff.set }),
            ...(diff.unset.length > 0 && { unset: diff.unset }),
            ...(touchDue && { lastSeenAt: now, expiresAt }),
          }),
        )
      : await this.#call(() => o.store.touch(key, now, expiresAt))
    // The record was destroyed meanwhile (a logout racing this request): never resurrect it.
    if (!written) return this.#startNew({})
    this.#data.settle(diff)
    this.#forceTouch = false
    if (touchDue) {
      this.#deadlineWritten = this.#deadlineWritten || expiresAt !== stored.expiresAt
      stored.lastSeenAt = now
      stored.expiresAt = expiresAt
      if (this.#deadlineWritten) this.#dirty()
    }
  }

  async #create(diff: DataDiff, now: number): Promise<void> {
    const o = this.#o
    if (!diff.changed && this.#userId === null) return
    const absoluteExpiresAt = this.#carried?.absoluteExpiresAt ?? now + o.absoluteTimeout
    const record: SessionRecord = {
      data: diff.set,
      userId: this.#userId,
      meta: this.#meta,
      createdAt: this.#carried?.createdAt ?? now,
      lastSeenAt: now,
      expiresAt: Math.min(now + o.idleTimeout, absoluteExpiresAt),
      absoluteExpiresAt,
    }
    const key = this.id
    if (!(await this.#call(() => o.store.create(key, record)))) {
      throw new CoatcheckError('STORE_CONFLICT', 'coatcheck: a session with this key already exists', 503)
    }
    this.#data.settle(diff)
    this.#forceTouch = false
    this.#stored = record
    this.#deadlineWritten = true
    this.#dirty()
    this.emit({ type: 'created', sid: shortId(key) })
  }

  /** Replaces the session with a new one that is not stored yet, holding `values`. */
  #startNew(values: Record<string, unknown>): void {
    this.#token = undefined
    this.#key = undefined
    this.#stored = undefined
    this.#carried = undefined
    this.#userId = null
    this.#meta = {}
    this.#deadlineWritten = false
    this.#data = SessionDataTracker.withValues(values, this)
    this.#publish()
    this.#dirty()
  }

  #assignToken(): void {
    this.#token = newToken()
    this.#key = hashedKey(this.#token)
  }

  #publish(): void {
    ;(this.#req as { session?: unknown }).session = this.#data.proxy
  }

  #call<T>(call: () => Promise<T>): Promise<T> {
    return storeCall(this.#o, call)
  }
}

function settle(work: Promise<void>, callback: Callback | undefined): Promise<void> {
  if (!callback) {
    // A caller that does not await (`req.session.save()` on its own) must not crash the process on a store failure:
    // the commit retries the write and answers 503 if it fails again. Awaiting callers still see the rejection.
    work.catch(() => {})
    return work
  }
  return work.then(
    () => callback(),
    (error: unknown) => callback(error),
  )
}
