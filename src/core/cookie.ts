/** Cookie header parsing and Set-Cookie serialization. Parsing never throws on hostile input. */

/** Attributes of the session cookie, resolved once from the options. */
export interface CookieAttributes {
  path: string
  domain: string | undefined
  httpOnly: boolean
  sameSite: 'strict' | 'lax' | 'none' | false
  partitioned: boolean
  priority: 'low' | 'medium' | 'high' | undefined
}

// A signed 43-character token is 93 characters once URI-encoded; anything far longer is not ours.
const MAX_VALUE_LENGTH = 1024

/**
 * The most signed session cookies one request may make us look up (both faces): a browser sends a few at most (other
 * paths, a parent domain), and a header repeating stale ones must not cost a store call per copy.
 */
export const MAX_SESSION_COOKIES = 3

/**
 * Every value of cookie `name` in a Cookie header, in header order, as sent (unquoted, not yet URI-decoded). Empty,
 * oversized and malformed values are skipped, never thrown.
 */
export function rawCookieValues(header: string | undefined, name: string): string[] {
  const found: string[] = []
  if (!header) return found
  let start = 0
  while (start < header.length) {
    let end = header.indexOf(';', start)
    if (end === -1) end = header.length
    const eq = header.indexOf('=', start)
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === name) {
      let value = header.slice(eq + 1, end).trim()
      if (value.length > 1 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
      if (value.length > 0 && value.length <= MAX_VALUE_LENGTH) found.push(value)
    }
    start = end + 1
  }
  return found
}

/** A raw cookie value URI-decoded, or undefined when it cannot be decoded. */
export function decodeCookieValue(raw: string): string | undefined {
  if (!raw.includes('%')) return raw
  try {
    return decodeURIComponent(raw)
  } catch {
    return undefined
  }
}

/** Every value of cookie `name` in a Cookie header, in header order, URI-decoded; undecodable ones are skipped. */
export function cookieValues(header: string | undefined, name: string): string[] {
  const found: string[] = []
  for (const raw of rawCookieValues(header, name)) {
    const value = decodeCookieValue(raw)
    if (value !== undefined) found.push(value)
  }
  return found
}

/**
 * A Set-Cookie header value. `lifetime`: a number is Max-Age in seconds (0 expires the cookie now), a Date is an
 * `Expires` attribute alone (express-session's format), undefined makes a browser-session cookie.
 */
export function serializeCookie(
  name: string,
  value: string,
  attrs: CookieAttributes,
  secure: boolean,
  lifetime: number | Date | undefined,
): string {
  let out = `${name}=${encodeURIComponent(value)}; Path=${attrs.path}`
  if (typeof lifetime === 'number') {
    out += lifetime > 0 ? `; Max-Age=${lifetime}` : '; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT'
  } else if (lifetime !== undefined) {
    out += `; Expires=${lifetime.toUTCString()}`
  }
  if (attrs.domain) out += `; Domain=${attrs.domain}`
  if (attrs.httpOnly) out += '; HttpOnly'
  if (secure) out += '; Secure'
  if (attrs.sameSite) out += `; SameSite=${attrs.sameSite[0]!.toUpperCase()}${attrs.sameSite.slice(1)}`
  if (attrs.partitioned && secure) out += '; Partitioned'
  if (attrs.priority) out += `; Priority=${attrs.priority[0]!.toUpperCase()}${attrs.priority.slice(1)}`
  return out
}
