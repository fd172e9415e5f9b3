import type { CookieAttributes } from '../core/cookie.ts'
import { type TrustProxy, trustProxyFn } from '../core/request.ts'
import { VerifiedCookies } from '../core/token.ts'
import { invalidOption } from '../errors.ts'
import { eventEmitter, type OnEvent, type SessionEvent } from '../events.ts'
import { isLegacyStore, type LegacyStore, legacyStore } from '../stores/legacy/adapter.ts'
import { memoryStore } from '../stores/memory/index.ts'
import type { SessionStore } from '../stores/types.ts'
import { fnOption, intOption, oneOf } from '../validate.ts'

const HOUR = 3_600_000

/** Attributes of the session cookie. */
export interface CookieOptions {
  /** Cookie path. Must start with `/`. Default `/`. */
  path?: string
  /** Cookie domain. Default none (host-only), which is what the `__Host-` prefix needs. */
  domain?: string
  /** Hide the cookie from page scripts. Default true. */
  httpOnly?: boolean
  /** `true` always Secure, `false` never, `'auto'` Secure when the request is HTTPS (see `trustProxy`). Default 'auto'. */
  secure?: boolean | 'auto'
  /** SameSite attribute, or false to omit it. `'none'` needs a Secure cookie. Default 'lax'. */
  sameSite?: 'strict' | 'lax' | 'none' | false
  /** CHIPS `Partitioned` attribute (only sent on Secure cookies). Default false. */
  partitioned?: boolean
  /** Chrome's `Priority` attribute. Default none. */
  priority?: 'low' | 'medium' | 'high'
}

/** Options of `session()`. Validated once, at start-up: a bad one throws, naming the option. */
export interface SessionOptions {
  /** Signing secret, at least 32 characters; or a list of them: the first signs, all verify (rotation). Required. */
  secret: string | readonly string[]
  /**
   * Where sessions live: a coatcheck store, or a store written for express-session (connect-redis...), wrapped by
   * the legacy adapter. Default an in-memory store (one process only; warns when NODE_ENV=production).
   */
  store?: SessionStore | LegacyStore
  /**
   * Cookie name. Default `__Host-sid` on Secure cookies (`__Secure-sid` when a domain or a path other than `/` rules
   * out `__Host-`) and `sid` otherwise. A `__Host-` name needs `secure: true`, path `/` and no domain.
   */
  name?: string
  /** Cookie attributes. */
  cookie?: CookieOptions
  /** Idle timeout in ms: a session unused this long expires. Positive integer. Default 24 h. */
  idleTimeout?: number
  /** Absolute timeout in ms from the session's creation (login creates a new one); activity never extends it. Default 7 days. */
  absoluteTimeout?: number
  /** Slide the idle deadline on activity. When false a session lives `idleTimeout` from creation. Default true. */
  rolling?: boolean
  /**
   * Lazy touch: activity is written (and the cookie refreshed) only once this many ms passed since the last write,
   * so read-only traffic costs no writes. Integer, 0 ≤ touchAfter < idleTimeout. Default min(idleTimeout / 10, 5 min).
   */
  touchAfter?: number
  /** Which proxies to believe about the protocol (X-Forwarded-Proto): false, true, a hop count or a function. Default false. */
  trustProxy?: boolean | number | TrustProxy
  /** Largest serialized session, in bytes (keys + JSON values). Positive integer. Default 64 KiB. */
  maxBytes?: number
  /** A store call slower than this many ms fails with `STORE_TIMEOUT` (503). Positive integer. Default 2000. */
  storeTimeout?: number
  /** Clock in epoch ms, for tests. Default `Date.now`. */
  now?: () => number
  /** Called for every event (created, expired, regenerated, destroyed, store-error). */
  onEvent?: OnEvent
}

/** The options after validation: frozen, never re-checked at request time. */
export interface ResolvedOptions {
  readonly secrets: readonly string[]
  /** Verifies cookie values against `secrets`, remembering recent good ones. */
  readonly cookies: VerifiedCookies
  readonly store: SessionStore
  /** The cookie name for a Secure (true) or plain (false) response. */
  readonly names: { readonly secure: string; readonly plain: string }
  readonly cookie: Readonly<CookieAttributes>
  readonly secure: boolean | 'auto'
  readonly idleTimeout: number
  readonly absoluteTimeout: number
  readonly rolling: boolean
  readonly touchAfter: number
  readonly trust: TrustProxy
  readonly maxBytes: number
  readonly storeTimeout: number
  readonly now: () => number
  readonly emit: (event: SessionEvent) => void
}

const KNOWN = new Set([
  'secret',
  'store',
  'name',
  'cookie',
  'idleTimeout',
  'absoluteTimeout',
  'rolling',
  'touchAfter',
  'trustProxy',
  'maxBytes',
  'storeTimeout',
  'now',
  'onEvent',
])
const KNOWN_COOKIE = new Set(['path', 'domain', 'httpOnly', 'secure', 'sameSite', 'partitioned', 'priority'])
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const PATH = /^\/[\x21-\x3a\x3c-\x7e]*$/
const DOMAIN = /^\.?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/

/** Validates `session()` options and resolves their defaults. */
export function resolveOptions(options: SessionOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', 'must be an object')
  for (const key of Object.keys(options)) if (!KNOWN.has(key)) throw invalidOption(key, 'is not a known option')
  const cookieIn = options.cookie ?? {}
  if (typeof cookieIn !== 'object') throw invalidOption('cookie', 'must be an object')
  for (const key of Object.keys(cookieIn)) {
    if (!KNOWN_COOKIE.has(key)) throw invalidOption(`cookie.${key}`, 'is not a known cookie option')
  }

  const secrets = resolveSecrets(options.secret)
  const cookie = resolveCookie(cookieIn)
  const secure = oneOf('cookie.secure', cookieIn.secure, [true, false, 'auto'], 'auto')
  if (cookie.sameSite === 'none' && secure === false)
    throw invalidOption('cookie.sameSite', "'none' needs a Secure cookie")
  const names = resolveNames(options.name, cookie, secure)

  const idleTimeout = intOption('idleTimeout', options.idleTimeout, 24 * HOUR)
  const absoluteTimeout = intOption('absoluteTimeout', options.absoluteTimeout, 7 * 24 * HOUR)
  const touchAfter = intOption('touchAfter', options.touchAfter, Math.min(Math.floor(idleTimeout / 10), 5 * 60_000), {
    min: 0,
    max: idleTimeout - 1,
  })
  const trustProxy = options.trustProxy ?? false
  if (typeof trustProxy === 'number') intOption('trustProxy', trustProxy, undefined, { min: 0 })
  else if (typeof trustProxy !== 'boolean' && typeof trustProxy !== 'function') {
    throw invalidOption('trustProxy', 'must be a boolean, a hop count or a function')
  }
  const now = fnOption('now', options.now, Date.now)
  const onEvent = fnOption<OnEvent>('onEvent', options.onEvent)

  return Object.freeze({
    secrets,
    cookies: new VerifiedCookies(secrets),
    store: resolveStore(options.store),
    names,
    cookie,
    secure,
    idleTimeout,
    absoluteTimeout,
    rolling: oneOf('rolling', options.rolling, [true, false], true),
    touchAfter,
    trust: trustProxyFn(trustProxy),
    maxBytes: intOption('maxBytes', options.maxBytes, 64 * 1024),
    storeTimeout: intOption('storeTimeout', options.storeTimeout, 2000),
    now,
    emit: eventEmitter(onEvent),
  })
}

function resolveSecrets(secret: unknown): readonly string[] {
  const list = Array.isArray(secret) ? secret : [secret]
  if (list.length === 0) throw invalidOption('secret', 'must hold at least one secret')
  for (const s of list) {
    if (typeof s !== 'string' || s.length < 32) {
      throw invalidOption('secret', 'must be a string of at least 32 characters (or an array of them)')
    }
  }
  return Object.freeze([...list])
}

function resolveCookie(c: CookieOptions): Readonly<CookieAttributes> {
  const path = c.path ?? '/'
  if (typeof path !== 'string' || !PATH.test(path))
    throw invalidOption('cookie.path', "must start with '/' and hold no ';'")
  if (c.domain !== undefined && (typeof c.domain !== 'string' || !DOMAIN.test(c.domain))) {
    throw invalidOption('cookie.domain', 'must be a host name')
  }
  return Object.freeze({
    path,
    domain: c.domain,
    httpOnly: oneOf('cookie.httpOnly', c.httpOnly, [true, false], true),
    sameSite: oneOf('cookie.sameSite', c.sameSite, ['strict', 'lax', 'none', false], 'lax'),
    partitioned: oneOf('cookie.partitioned', c.partitioned, [true, false], false),
    priority: oneOf('cookie.priority', c.priority, ['low', 'medium', 'high', undefined], undefined),
  })
}

function resolveNames(name: unknown, cookie: CookieAttributes, secure: boolean | 'auto') {
  if (name === undefined) {
    const hostOnly = cookie.path === '/' && cookie.domain === undefined
    const secureName = hostOnly ? '__Host-sid' : '__Secure-sid'
    return Object.freeze({ secure: secureName, plain: secure === true ? secureName : 'sid' })
  }
  if (typeof name !== 'string' || !TOKEN.test(name)) throw invalidOption('name', 'must be a valid cookie name')
  if (name.startsWith('__Host-') && (secure !== true || cookie.path !== '/' || cookie.domain !== undefined)) {
    throw invalidOption('name', "with the __Host- prefix needs cookie.secure: true, path '/' and no domain")
  }
  if (name.startsWith('__Secure-') && secure !== true) {
    throw invalidOption('name', 'with the __Secure- prefix needs cookie.secure: true')
  }
  return Object.freeze({ secure: name, plain: name })
}

/** The store option: a coatcheck store, or a store written for express-session (wrapped by the legacy adapter). */
function resolveStore(store: SessionStore | LegacyStore | undefined): SessionStore {
  if (isLegacyStore(store)) return legacyStore(store)
  if (store === undefined) {
    if (process.env.NODE_ENV === 'production') {
      process.emitWarning(
        'coatcheck: no `store` given; sessions live in process memory and are lost on restart',
        'CoatcheckWarning',
      )
    }
    return memoryStore()
  }
  for (const method of ['get', 'create', 'update', 'touch', 'destroy'] as const) {
    if (typeof store?.[method] !== 'function') throw invalidOption('store', `must implement ${method}()`)
  }
  return store
}
