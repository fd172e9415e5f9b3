import { EventEmitter } from 'node:events'
import type { IncomingMessage } from 'node:http'
import { inherits } from 'node:util'
import type { LegacySession, StoreCallback } from '../stores/legacy/adapter.ts'
import { Cookie } from './cookie.ts'
import { type Callback, Session } from './session.ts'
import type { RequestSession } from './types.ts'

/**
 * The base of express-session stores: an EventEmitter with `regenerate`, `load` and `createSession`. A plain
 * constructor function, so ES5 stores can inherit from it (`Store.call(this)` + `util.inherits(MyStore, Store)`) as
 * well as classes (`class MyStore extends Store`). A subclass implements `get`, `set` and `destroy`, and may implement
 * `touch`, `all`, `length` and `clear`.
 */
export interface Store extends EventEmitter {
  get(sid: string, callback: StoreCallback): unknown
  set(sid: string, session: LegacySession, callback?: StoreCallback): unknown
  destroy(sid: string, callback?: StoreCallback): unknown
  touch?(sid: string, session: LegacySession, callback?: StoreCallback): unknown
  all?(callback: StoreCallback): unknown
  length?(callback: StoreCallback): unknown
  clear?(callback?: StoreCallback): unknown
  /** Gives the request's session a new ID (as `req.session.regenerate`). */
  regenerate(req: IncomingMessage, callback: Callback): void
  /**
   * Reads session `sid` as a `Session` object (not attached to a request of the middleware); no session when none is
   * stored.
   *
   * @example
   * ```ts
   * store.load(sid, (err, session) => console.log(err ?? session?.userId))
   * ```
   */
  load(sid: string, callback: (error?: unknown, session?: RequestSession) => void): void
  /** Makes `req.session` a `Session` for the stored object `session`, and returns it. */
  createSession(req: IncomingMessage, session: LegacySession): RequestSession
}

/** `Store` as a value: callable (ES5 inheritance) and constructible. */
export interface StoreConstructor {
  new (): Store
  (this: Store): void
  prototype: Store
}

export const Store = function Store(this: Store): void {
  Reflect.apply(EventEmitter, this, [])
} as unknown as StoreConstructor
inherits(Store, EventEmitter)

type WithSession = IncomingMessage & { session?: Session; sessionID?: string; sessionStore?: Store }

Store.prototype.regenerate = function regenerate(req: IncomingMessage, callback: Callback): void {
  const { session } = req as WithSession
  if (session instanceof Session) session.regenerate(callback)
  else callback(new Error('coatcheck: regenerate() needs a request of the session middleware'))
}

Store.prototype.load = function load(this: Store, sid, callback) {
  this.get(sid, (error, stored) => {
    if (error) return callback(error)
    if (!stored) return callback()
    const req = { sessionID: sid, sessionStore: this } as unknown as IncomingMessage
    callback(undefined, this.createSession(req, stored as LegacySession))
  })
}

Store.prototype.createSession = function createSession(req: IncomingMessage, stored: LegacySession): RequestSession {
  const expires = stored.cookie?.expires
  const originalMaxAge = stored.cookie?.originalMaxAge
  const cookie = new Cookie(stored.cookie)
  if (typeof expires === 'string') cookie.expires = new Date(expires)
  cookie.originalMaxAge = originalMaxAge as number | null
  const session = new Session(req, { ...stored, cookie })
  ;(req as WithSession).session = session
  return session
}

/**
 * express-session's MemoryStore with its callback API (`get`, `set`, `destroy`, `touch`, `all`, `length`, `clear`):
 * sessions as JSON text in this process, expired ones dropped when read. Like the original it never sweeps and is
 * unbounded, so it is for development and tests; the middleware warns when it is the default under
 * NODE_ENV=production.
 */
export interface MemoryStore extends Store {
  sessions: Record<string, string>
  get(sid: string, callback: StoreCallback): void
  set(sid: string, session: LegacySession, callback?: StoreCallback): void
  destroy(sid: string, callback?: StoreCallback): void
  touch(sid: string, session: LegacySession, callback?: StoreCallback): void
  all(callback: StoreCallback): void
  length(callback: StoreCallback): void
  clear(callback?: StoreCallback): void
}

export interface MemoryStoreConstructor {
  new (): MemoryStore
  (this: MemoryStore): void
  prototype: MemoryStore
}

export const MemoryStore = function MemoryStore(this: MemoryStore): void {
  Store.call(this)
  this.sessions = Object.create(null)
} as unknown as MemoryStoreConstructor
inherits(MemoryStore, Store)

const later = (callback: StoreCallback | undefined, ...args: unknown[]) => {
  if (callback) setImmediate(callback, ...args)
}

/** The live session `sid` (parsed), deleting it when its cookie has expired. */
function readSession(store: MemoryStore, sid: string): LegacySession | undefined {
  const json = store.sessions[sid]
  if (!json) return undefined
  const session = JSON.parse(json) as LegacySession
  const raw = session.cookie?.expires
  const expires = typeof raw === 'string' ? new Date(raw) : raw
  if (expires && (expires as Date).valueOf() <= Date.now()) {
    delete store.sessions[sid]
    return undefined
  }
  return session
}

Object.assign(MemoryStore.prototype, {
  all(this: MemoryStore, callback: StoreCallback) {
    const sessions: Record<string, LegacySession> = Object.create(null)
    for (const sid of Object.keys(this.sessions)) {
      const session = readSession(this, sid)
      if (session) sessions[sid] = session
    }
    later(callback, null, sessions)
  },
  clear(this: MemoryStore, callback?: StoreCallback) {
    this.sessions = Object.create(null)
    later(callback)
  },
  destroy(this: MemoryStore, sid: string, callback?: StoreCallback) {
    delete this.sessions[sid]
    later(callback)
  },
  get(this: MemoryStore, sid: string, callback: StoreCallback) {
    later(callback, null, readSession(this, sid))
  },
  set(this: MemoryStore, sid: string, session: LegacySession, callback?: StoreCallback) {
    this.sessions[sid] = JSON.stringify(session)
    later(callback)
  },
  length(this: MemoryStore, callback: StoreCallback) {
    this.all((error, sessions) => {
      if (error) return callback(error)
      callback(null, Object.keys(sessions as object).length)
    })
  },
  touch(this: MemoryStore, sid: string, session: LegacySession, callback?: StoreCallback) {
    const current = readSession(this, sid)
    if (current) {
      current.cookie = session.cookie
      this.sessions[sid] = JSON.stringify(current)
    }
    later(callback)
  },
})
