import type { CookieAttributes } from '../core/cookie.ts'
import { type TrustProxy, trustProxyFn } from '../core/request.ts'
import { VerifiedCookies } from '../core/token.ts'
import { invalidOption } from '../errors.ts'
import { eventEmitter, type OnEvent, type SessionEvent } from '../events.ts'
import type { LegacyStore } from '../stores/legacy/adapter.ts'
import type { SessionStore } from '../stores/types.ts'
import { fnOption, intOption, knownKeys, oneOf } from '../validate.ts'
import { resolveStore } from './store-option.ts'

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
  /** Idle timeout in ms: a session unused this long expires. Positive integer up to 400 days (warns below a minute). Default 24 h. */
  idleTimeout?: number
  /** Absolute timeout in ms from the session's creation (login creates a new one); activity never extends it. Positive integer up to 400 days. Default 7 days. */
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
  /**
   * Largest serialized session, in bytes (keys + JSON values), enforced by the store's atomic update, so concurrent
   * requests cannot pass it together. A write over it fails with `SESSION_TOO_LARGE` (413). Positive integer.
   * Default 64 KiB.
   */
  maxBytes?: number
  /** Deepest nesting of a value (`{a:{b:1}}` is 2); a deeper one fails with `SESSION_TOO_DEEP` (413). Integer from 1 to 1000. Default 32. */
  maxDepth?: number
  /** A store call slower than this many ms fails with `STORE_TIMEOUT` (503). Positive integer. Default 2000. */
  storeTimeout?: number
  /** Clock in epoch ms, for tests. Default `Date.now`. */
  now?: () => number
  /** Called for every event (created, expired, regenerated, destroyed, store-error). */
  onEvent?: OnEvent
}

/**
 * The options after validation: frozen, never re-checked at request time.
 * @internal
 */
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
  readonly maxDepth: number
  readonly storeTimeout: number
  readonly now: () => number
  readonly emit: (event: SessionEvent) => void
}

const KNOWN = [
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
  'maxDepth',
  'storeTimeout',
  'now',
  'onEvent',
]
const KNOWN_COOKIE = ['path', 'domain', 'httpOnly', 'secure', 'sameSite', 'partitioned', 'priority']
const DROP_IN = 'that is an express-session option: modern `session()` never stores unchanged or empty sessions'
// Options an app brings from express-session, and what to use instead.
const HINTS = {
  resave: `${DROP_IN}; remove it, or keep express-session's behaviour with \`coatcheck/express-session\``,
  saveUninitialized: `${DROP_IN}; remove it, or keep express-session's behaviour with \`coatcheck/express-session\``,
  genid: 'session IDs are always 256 random bits here; a custom genid needs `coatcheck/express-session`',
  proxy: 'use `trustProxy`',
  unset: 'use `await req.session.destroy()`',
  key: 'use `name`',
  cookieName: 'use `name`',
  maxAge: 'use `idleTimeout` (ms) and `absoluteTimeout` (ms)',
  ttl: 'use `idleTimeout` (ms)',
}
const COOKIE_HINTS = {
  maxAge: 'the cookie lives as long as the session: use `idleTimeout` (ms) and `absoluteTimeout` (ms) of `session()`',
  expires: 'the cookie lives as long as the session: use `idleTimeout` (ms) and `absoluteTimeout` (ms) of `session()`',
}
/** The longest idle or absolute timeout: 400 days, the longest cookie lifetime browsers keep. */
export const MAX_TIMEOUT = 400 * 24 * HOUR
const MINUTE = 60_000
const GENERATE = "node -e \"console.log(require('node:crypto').randomBytes(32).toString('base64url'))\""
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const PATH = /^\/[\x21-\x3a\x3c-\x7e]*$/
const DOMAIN = /^\.?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/

// One resolution per options object: `session()` and `upgradeSessions()` given the same object share the verified-
// cookie cache, the event emitter and the store adapter.
const resolved = new WeakMap<object, ResolvedOptions>()

/**
 * Validates `session()` options and resolves their defaults, once per options object.
 * @internal
 */
export function resolveOptions(options: SessionOptions): ResolvedOptions {
  if (options === undefined) {
    throw invalidOption(
      'secret',
      `is required: \`session({ secret: process.env.SESSION_SECRET })\`; make one with ${GENERATE}`,
    )
  }
  const known = typeof options === 'object' && options !== null ? resolved.get(options) : undefined
  if (known) return known
  knownKeys('session()', options, KNOWN, { hints: HINTS })
  const result = resolve(options)
  resolved.set(options, result)
  return result
}

function resolve(options: SessionOptions): ResolvedOptions {
  const cookieIn = options.cookie ?? {}
  knownKeys('session()', cookieIn, KNOWN_COOKIE, { prefix: 'cookie.', hints: COOKIE_HINTS })

  const secrets = resolveSecrets(options.secret)
  const cookie = resolveCookie(cookieIn)
  const secure = oneOf('cookie.secure', cookieIn.secure, [true, false, 'auto'], 'auto')
  // Browsers drop a SameSite=None cookie without Secure, and 'auto' would send one on plain HTTP.
  if (cookie.sameSite === 'none' && secure !== true) {
    throw invalidOption('cookie.sameSite', "'none' needs `cookie.secure: true` (browsers drop it without Secure)")
  }
  const names = resolveNames(options.name, cookie, secure)

  const idleTimeout = intOption('idleTimeout', options.idleTimeout, 24 * HOUR, { max: MAX_TIMEOUT })
  const absoluteTimeout = intOption('absoluteTimeout', options.absoluteTimeout, 7 * 24 * HOUR, { max: MAX_TIMEOUT })
  if (idleTimeout < MINUTE) warnShort(idleTimeout)
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
    maxDepth: intOption('maxDepth', options.maxDepth, 32, { max: 1000 }),
    storeTimeout: intOption('storeTimeout', options.storeTimeout, 2000),
    now,
    emit: eventEmitter(onEvent),
  })
}

function warnShort(idleTimeout: number): void {
  process.emitWarning(
    `coatcheck: idleTimeout is ${idleTimeout} ms, so sessions end after ${idleTimeout / 1000} s of inactivity; ` +
      'timeouts are in milliseconds (24 h is 86_400_000)',
    { type: 'CoatcheckWarning', code: 'COATCHECK_SHORT_TIMEOUT' },
  )
}

function resolveSecrets(secret: unknown): readonly string[] {
  if (secret === undefined || secret === '') {
    throw invalidOption(
      'secret',
      `is required: \`session({ secret: process.env.SESSION_SECRET })\`; make one with ${GENERATE}`,
    )
  }
  const list = Array.isArray(secret) ? secret : [secret]
  if (list.length === 0) throw invalidOption('secret', 'must hold at least one secret')
  for (const s of list) {
    if (typeof s !== 'string' || s.length < 32) {
      throw invalidOption(
        'secret',
        `must be a string of at least 32 characters (or an array of them); make one with ${GENERATE}`,
      )
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
