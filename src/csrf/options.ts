import type { IncomingMessage } from 'node:http'
import { type TrustProxy, trustProxyFn } from '../core/request.ts'
import { invalidOption } from '../errors.ts'
import type { OnEvent } from '../events.ts'
import { boolOption, fnOption, intOption, knownKeys } from '../validate.ts'
import { originOf, type Rules, type TrustedOrigin } from './decide.ts'
import type { OnRejected } from './reply.ts'

/** Options of `csrf()`. Validated once, at start-up: a bad one throws `INVALID_OPTION`, naming it. */
export interface CsrfOptions {
  /**
   * Also let `Sec-Fetch-Site: same-site` through: requests from a sibling subdomain (`www.example.com` posting to
   * `api.example.com`). Only when every subdomain of the site is yours and trusted, since a same-site page gets your
   * SameSite=Lax cookies. A boolean. Default false: only same-origin requests pass on the headers alone.
   */
  allowSameSite?: boolean
  /**
   * Other origins that may send unsafe requests, for an SPA served from another origin than the API: a list of
   * origins (`'https://app.example.com'`: scheme, host and optional port; no path), or a function of the request's
   * `Origin` header value. The app's own origin (from the Host header) is always allowed. Consulted when
   * `Sec-Fetch-Site` is `cross-site` (or `same-site` without `allowSameSite`) and when `Origin` is not the app's own;
   * `Origin: null` always fails. Default none.
   */
  origins?: readonly string[] | ((origin: string, req: IncomingMessage) => boolean)
  /**
   * Which proxies to believe about the app's own origin (X-Forwarded-Proto and X-Forwarded-Host): false, true, a hop
   * count or a function, as `session({ trustProxy })`. Default: the session middleware's judgement: `trustProxy` of
   * `session()` in modern mode, Express's `trust proxy` setting in drop-in mode.
   */
  trustProxy?: boolean | number | TrustProxy
  /**
   * Where a request's token is read from, for clients that send neither `Sec-Fetch-Site` nor `Origin`. Default: the
   * `_csrf` field of `req.body` (so a body parser such as `express.urlencoded()` must run before `csrf()`), else the
   * `x-csrf-token` header. A function; whatever it returns is checked, and anything but a well-formed token fails.
   */
  value?: (req: IncomingMessage) => unknown
  /**
   * Decide and report, but never refuse: a request that would fail emits `csrf-rejected` with `reportOnly: true` and
   * goes through. For rolling the protection out on an existing app: watch the events, fix the forms, then enforce.
   * A boolean. Default false.
   */
  reportOnly?: boolean
  /**
   * Answers a refused request instead of the default generic 403 page: your own page in your layout, say, or
   * `next(error)` to hand it to your error handler. The status is already 403 and `Cache-Control: no-store` set; the
   * reason is not passed (it is in the `csrf-rejected` event), so a page cannot tell a probe why by mistake. A throw
   * (or a rejected promise) goes to `next`; `next()` without an error never lets the request through: it passes a 403
   * `CoatcheckError` (`CSRF_REJECTED`). A function. Default: `403` with a generic HTML or JSON body (by `Accept`).
   */
  onRejected?: OnRejected
  /**
   * Called for every `csrf-rejected` event. In modern mode the session middleware's `onEvent` and the
   * `coatcheck:csrf-rejected` diagnostics channel get the event too; in drop-in mode the channel does. Default none.
   */
  onEvent?: OnEvent
}

/**
 * The options after validation: frozen, never re-checked at request time.
 * @internal
 */
export interface ResolvedCsrfOptions extends Rules {
  /** Undefined: follow the session middleware's judgement. */
  readonly trust: TrustProxy | undefined
  /** Undefined: the default lookup (`_csrf` body field, then `x-csrf-token`). */
  readonly value: ((req: IncomingMessage) => unknown) | undefined
  readonly reportOnly: boolean
  readonly onRejected: OnRejected | undefined
  readonly onEvent: OnEvent | undefined
}

const KNOWN = ['allowSameSite', 'origins', 'trustProxy', 'value', 'reportOnly', 'onRejected', 'onEvent']
// Options an app brings from csurf, and what to do instead.
const HINTS = {
  cookie:
    'the secret lives in the session; a visitor without one gets a signed pre-session cookie automatically: remove it',
  sessionKey: 'the secret lives in the session meta (modern) or `req.session.csrfSecret` (drop-in): remove it',
  ignoreMethods: 'GET, HEAD, OPTIONS and TRACE always pass, every other method is checked: remove it',
}

/**
 * Validates `csrf()` options and resolves their defaults.
 * @internal
 */
export function resolveCsrfOptions(options: CsrfOptions | undefined): ResolvedCsrfOptions {
  knownKeys('csrf()', options, KNOWN, { hints: HINTS })
  const o = options ?? {}
  return Object.freeze({
    allowSameSite: boolOption('allowSameSite', o.allowSameSite, false),
    trusted: resolveOrigins(o.origins),
    trust: resolveTrust(o.trustProxy),
    value: fnOption<(req: IncomingMessage) => unknown>('value', o.value),
    reportOnly: boolOption('reportOnly', o.reportOnly, false),
    onRejected: fnOption<OnRejected>('onRejected', o.onRejected),
    onEvent: fnOption<OnEvent>('onEvent', o.onEvent),
  })
}

function resolveOrigins(origins: unknown): TrustedOrigin | undefined {
  if (origins === undefined) return undefined
  if (typeof origins === 'function') return origins as TrustedOrigin
  if (!Array.isArray(origins)) throw invalidOption('origins', 'must be a list of origins or a function')
  const allowed = new Set<string>()
  for (const entry of origins) {
    const origin = typeof entry === 'string' ? originOf(entry) : undefined
    if (origin === undefined) {
      throw invalidOption('origins', `must hold origins like 'https://app.example.com' (no path); got ${show(entry)}`)
    }
    allowed.add(origin)
  }
  if (allowed.size === 0) return undefined
  return (origin) => {
    const normalized = originOf(origin)
    return normalized !== undefined && allowed.has(normalized)
  }
}

function resolveTrust(trustProxy: unknown): TrustProxy | undefined {
  if (trustProxy === undefined) return undefined
  if (typeof trustProxy === 'number') intOption('trustProxy', trustProxy, undefined, { min: 0 })
  else if (typeof trustProxy !== 'boolean' && typeof trustProxy !== 'function') {
    throw invalidOption('trustProxy', 'must be a boolean, a hop count or a function')
  }
  return trustProxyFn(trustProxy as boolean | number | TrustProxy)
}

function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value)
}
