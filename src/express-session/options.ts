import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { deprecate } from 'node:util'
import { isSecure, trustProxyFn } from '../core/request.ts'
import type { Secret } from '../core/token.ts'
import { eventEmitter, type OnEvent, type SessionEvent } from '../events.ts'
import { isLegacyStore, type LegacyStore, legacyStore } from '../stores/legacy/adapter.ts'
import type { SessionStore } from '../stores/types.ts'
import { Cookie, type CookieOptions, cookieAttributes } from './cookie.ts'
import { MemoryStore } from './store.ts'

/** The options of express-session 1.19, with its defaults; plus `storeTimeout` and `onEvent` from coatcheck. */
export interface ExpressSessionOptions {
  /** Cookie name. Default `connect.sid`. */
  name?: string
  /** Alias of `name` (older express-session versions). */
  key?: string
  /** Signing secret(s): the first signs, all verify. Without one, `req.secret` (cookie-parser) is used. */
  secret?: Secret | Secret[]
  /** Makes a new session ID. Default 24 random bytes, base64url (uid-safe's format). */
  genid?: (req: IncomingMessage) => string
  /** An express-session store (callback API) or a coatcheck store. Default a new `MemoryStore`. */
  store?: LegacyStore | SessionStore
  /** Trust X-Forwarded-Proto: true, false, or undefined to follow Express's `trust proxy` (`req.secure`). */
  proxy?: boolean
  /** Write the session back even when unchanged. Default true (with express-session's deprecation notice). */
  resave?: boolean
  /** Store new sessions even when nothing was set. Default true (with express-session's deprecation notice). */
  saveUninitialized?: boolean
  /** Send the cookie on every response, renewing its expiry. Default false. */
  rolling?: boolean
  /** What `delete req.session` / `req.session = null` does: `'keep'` the stored session or `'destroy'` it. */
  unset?: 'keep' | 'destroy'
  /** Cookie attributes, or a function of the request returning them. */
  cookie?: CookieOptions | ((req: IncomingMessage) => CookieOptions)
  /** A store call slower than this many ms fails with 503. Default 2000 (coatcheck). */
  storeTimeout?: number
  /** Called for every event (coatcheck). */
  onEvent?: OnEvent
}

/** The options after validation. */
export interface DropInOptions {
  readonly name: string
  readonly secrets: readonly Secret[] | undefined
  readonly genid: (req: IncomingMessage) => string
  /** The store as the app gave it, exposed as `req.sessionStore`. */
  readonly given: LegacyStore | SessionStore
  /** The same store in coatcheck's contract. */
  readonly store: SessionStore
  /** Whether the store can touch (express-session touches only stores that implement it). */
  readonly canTouch: boolean
  readonly resave: boolean
  readonly saveUninitialized: boolean
  readonly rolling: boolean
  readonly unsetDestroy: boolean
  readonly cookie: (req: IncomingMessage) => CookieOptions
  readonly isSecure: (req: IncomingMessage) => boolean
  readonly storeTimeout: number
  readonly emit: (event: SessionEvent) => void
}

const MEMORY_WARNING =
  'Warning: connect.session() MemoryStore is not\n' +
  'designed for a production environment, as it will leak\n' +
  'memory, and will not scale past a single process.'

const notice = (message: string) => deprecate(() => {}, `express-session ${message}`)
const noResave = notice('undefined resave option; provide resave option')
const noSaveUninitialized = notice('undefined saveUninitialized option; provide saveUninitialized option')
const noSecret = notice('req.secret; provide secret option')

/** Validates express-session options and resolves their defaults, as express-session does at start-up. */
export function resolveDropInOptions(options: ExpressSessionOptions = {}): DropInOptions {
  const opts = options ?? {}
  const cookieOption = opts.cookie ?? {}
  const genid = opts.genid ?? generateSessionId
  if (typeof genid !== 'function') throw new TypeError('genid option must be a function')
  if (opts.resave === undefined) noResave()
  if (opts.saveUninitialized === undefined) noSaveUninitialized()
  if (opts.unset && opts.unset !== 'destroy' && opts.unset !== 'keep') {
    throw new TypeError('unset option must be "destroy" or "keep"')
  }
  let secret = opts.secret
  if (Array.isArray(secret) && secret.length === 0) {
    throw new TypeError('secret option array must contain one or more strings')
  }
  if (!secret) noSecret()
  if (secret && !Array.isArray(secret)) secret = [secret]
  if (typeof cookieOption === 'object') {
    // A bad static attribute fails now rather than on every response.
    const { sameSite } = cookieOption
    cookieAttributes(new Cookie({ ...cookieOption, sameSite: sameSite === 'auto' ? 'lax' : sameSite }))
  }

  const given = opts.store ?? new MemoryStore()
  if (process.env.NODE_ENV === 'production' && given instanceof MemoryStore) console.warn(MEMORY_WARNING)
  const legacy = isLegacyStore(given)
  const storeTimeout = opts.storeTimeout ?? 2000
  if (!Number.isSafeInteger(storeTimeout) || storeTimeout <= 0) {
    throw new TypeError('storeTimeout option must be a positive integer')
  }
  const trust = opts.proxy === undefined ? undefined : trustProxyFn(opts.proxy)
  return Object.freeze({
    name: opts.name || opts.key || 'connect.sid',
    secrets: secret ? Object.freeze([...(secret as Secret[])]) : undefined,
    genid,
    given,
    store: legacy ? legacyStore(given) : (given as SessionStore),
    canTouch: !legacy || typeof given.touch === 'function',
    resave: opts.resave ?? true,
    saveUninitialized: opts.saveUninitialized ?? true,
    rolling: Boolean(opts.rolling),
    unsetDestroy: opts.unset === 'destroy',
    cookie: typeof cookieOption === 'function' ? cookieOption : () => cookieOption,
    // Without `proxy`, express-session follows Express's own judgement (`trust proxy`), which `req.secure` carries.
    isSecure: trust
      ? (req: IncomingMessage) => isSecure(req, trust)
      : (req: IncomingMessage) =>
          Boolean((req.socket as { encrypted?: boolean }).encrypted) || (req as { secure?: boolean }).secure === true,
    storeTimeout,
    emit: eventEmitter(opts.onEvent),
  })
}

/** express-session's default ID: 24 random bytes, base64url (as uid-safe makes them). */
export function generateSessionId(): string {
  return randomBytes(24).toString('base64url')
}
