import { type CookieAttributes, serializeCookie } from '../core/cookie.ts'

/** express-session's `cookie` option (an object, or a function of the request returning one). */
export interface CookieOptions {
  /** Lifetime in ms from now, renewed on every touch. Default none: a browser-session cookie. */
  maxAge?: number | null
  /** A fixed expiry date (prefer `maxAge`). */
  expires?: Date | null
  /** Default false. `'auto'`: Secure when the request is HTTPS (see `proxy`). */
  secure?: boolean | 'auto'
  /** Default none. `true` means `'strict'`; `'auto'`: `'none'` on HTTPS, `'lax'` otherwise. */
  sameSite?: boolean | 'lax' | 'strict' | 'none' | 'auto'
  /** Default true. */
  httpOnly?: boolean
  /** Default none (host-only). */
  domain?: string
  /** Default `/`. Requests outside it get no session. */
  path?: string
  /** CHIPS `Partitioned` (sent on Secure cookies only). Default false. */
  partitioned?: boolean
  /** Chrome's `Priority`. Default none. */
  priority?: 'low' | 'medium' | 'high'
  [option: string]: unknown
}

type SameSite = boolean | 'lax' | 'strict' | 'none' | undefined

/**
 * `req.session.cookie`, with express-session's semantics: `maxAge` counts down to `expires`, `originalMaxAge` is the
 * lifetime it was given, and its JSON is what stores keep under `cookie`.
 */
export class Cookie {
  declare path: string
  declare httpOnly: boolean
  declare originalMaxAge: number | null
  declare _expires: Date | null | undefined
  declare domain: string | undefined
  declare secure: boolean | 'auto' | undefined
  declare sameSite: SameSite | 'auto'
  declare partitioned: boolean | undefined
  declare priority: 'low' | 'medium' | 'high' | undefined

  constructor(options?: CookieOptions) {
    this.path = '/'
    this.maxAge = null
    this.httpOnly = true
    if (options) {
      if (typeof options !== 'object') throw new TypeError('argument options must be a object')
      // As express-session: every option is copied, including ones this class does not declare.
      const self = this as unknown as Record<string, unknown>
      for (const key in options) if (key !== 'data') self[key] = options[key]
    }
    if (this.originalMaxAge === undefined || this.originalMaxAge === null) this.originalMaxAge = this.maxAge
  }

  /** The expiry date, or null for a browser-session cookie. Setting it also sets `originalMaxAge`. */
  get expires(): Date | null | undefined {
    return this._expires
  }

  set expires(date: Date | null | undefined) {
    this._expires = date
    this.originalMaxAge = this.maxAge
  }

  /** Milliseconds left until `expires` (null without one). Setting it moves `expires` to now + ms. */
  get maxAge(): number | null {
    return this.expires instanceof Date ? this.expires.valueOf() - Date.now() : (this.expires ?? null)
  }

  set maxAge(ms: number | Date | null | undefined) {
    if (ms && typeof ms !== 'number' && !(ms instanceof Date)) throw new TypeError('maxAge must be a number or Date')
    if (typeof ms !== 'number') {
      this.expires = ms
      return
    }
    // One reading of the clock: originalMaxAge is the ms given, not expires − a later now (1 ms short at a tick).
    this._expires = new Date(Date.now() + ms)
    this.originalMaxAge = ms
  }

  /** The attributes as stores keep them. */
  get data(): Record<string, unknown> {
    return {
      originalMaxAge: this.originalMaxAge,
      partitioned: this.partitioned,
      priority: this.priority,
      expires: this._expires,
      secure: this.secure,
      httpOnly: this.httpOnly,
      domain: this.domain,
      path: this.path,
      sameSite: this.sameSite,
    }
  }

  /** A Set-Cookie header value for `name=value` with these attributes. */
  serialize(name: string, value: string): string {
    const { attributes, secure, expires } = cookieAttributes(this)
    return serializeCookie(name, value, attributes, secure, expires)
  }

  toJSON(): Record<string, unknown> {
    return this.data
  }
}

const DOMAIN = /^([.]?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)([.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i
const PATH = /^[\u0020-\u003A\u003D-\u007E]*$/

/** A cookie's attributes in the engine's form, validated as express-session's serializer does. */
export function cookieAttributes(cookie: Cookie): {
  attributes: CookieAttributes
  secure: boolean
  expires: Date | undefined
} {
  const { domain, path, expires } = cookie
  if (domain && !DOMAIN.test(domain)) throw new TypeError('option domain is invalid')
  if (path && !PATH.test(path)) throw new TypeError('option path is invalid')
  if (expires && !(expires instanceof Date && !Number.isNaN(expires.valueOf()))) {
    throw new TypeError('option expires is invalid')
  }
  return {
    attributes: {
      path: path || '/',
      domain: domain || undefined,
      httpOnly: Boolean(cookie.httpOnly),
      sameSite: sameSiteOf(cookie.sameSite),
      partitioned: Boolean(cookie.partitioned),
      priority: priorityOf(cookie.priority),
    },
    secure: Boolean(cookie.secure),
    expires: expires || undefined,
  }
}

function sameSiteOf(value: unknown): CookieAttributes['sameSite'] {
  if (!value) return false
  const v = typeof value === 'string' ? value.toLowerCase() : value
  if (v === true || v === 'strict') return 'strict'
  if (v === 'lax' || v === 'none') return v
  throw new TypeError('option sameSite is invalid')
}

function priorityOf(value: unknown): CookieAttributes['priority'] {
  if (!value) return undefined
  const v = typeof value === 'string' ? value.toLowerCase() : value
  if (v === 'low' || v === 'medium' || v === 'high') return v
  throw new TypeError('option priority is invalid')
}
