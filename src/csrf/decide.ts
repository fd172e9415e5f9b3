/**
 * The header half of `csrf()`: what Fetch Metadata (`Sec-Fetch-Site`) and `Origin` prove about an unsafe request.
 * Pure: it reads the request and returns a verdict; the middleware acts on it.
 */
import type { IncomingMessage } from 'node:http'
import { isSecure, type TrustProxy } from '../core/request.ts'
import type { CsrfReason } from '../events.ts'

/** Methods that must not change state, so they always pass (RFC 9110 §9.2.1). */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

/** Decides whether an Origin that is not the app's own may send unsafe requests. */
export type TrustedOrigin = (origin: string, req: IncomingMessage) => boolean

/** The resolved rules of one `csrf()`. */
export interface Rules {
  readonly allowSameSite: boolean
  /** Undefined when no other origin is trusted. */
  readonly trusted: TrustedOrigin | undefined
}

/** The verdict on an unsafe request. */
export interface Decision {
  /** `pass`: the headers prove it is ours; `token`: they say nothing and the token decides; else why it fails. */
  readonly outcome: 'pass' | 'token' | CsrfReason
  /** The request headers the verdict depended on, for `Vary`. */
  readonly vary: readonly string[]
}

const SITE = Object.freeze(['Sec-Fetch-Site'])
const BOTH = Object.freeze(['Sec-Fetch-Site', 'Origin'])

/**
 * Decides an unsafe request, in order: (1) `Sec-Fetch-Site`, which browsers send on every request from a secure
 * context and pages cannot forge: `same-origin` and `none` (the user typed or bookmarked it) pass, `same-site` passes
 * only with `allowSameSite`, anything else fails unless its Origin is trusted; (2) without it, `Origin` must be the
 * app's own origin or a trusted one, and `null` (a sandboxed frame, a privacy redirect) fails; (3) with neither the
 * request did not come from a browser page that could be forged, and the token decides.
 */
export function decide(req: IncomingMessage, rules: Rules, trust: TrustProxy): Decision {
  const site = headerOf(req, 'sec-fetch-site')?.toLowerCase()
  if (site !== undefined) {
    if (site === 'same-origin' || site === 'none') return { outcome: 'pass', vary: SITE }
    if (site === 'same-site' && rules.allowSameSite) return { outcome: 'pass', vary: SITE }
    if (rules.trusted === undefined) return { outcome: 'cross-site', vary: SITE }
    const origin = headerOf(req, 'origin')
    const trusted = origin !== undefined && origin !== 'null' && rules.trusted(origin, req)
    return { outcome: trusted ? 'pass' : 'cross-site', vary: BOTH }
  }
  const origin = headerOf(req, 'origin')
  if (origin === undefined) return { outcome: 'token', vary: BOTH }
  if (origin === 'null') return { outcome: 'null-origin', vary: BOTH }
  const own = ownOrigin(req, trust)
  if ((own !== undefined && originOf(origin) === own) || rules.trusted?.(origin, req)) {
    return { outcome: 'pass', vary: BOTH }
  }
  return { outcome: 'origin-mismatch', vary: BOTH }
}

/**
 * The app's own origin as this request names it: the scheme (HTTPS directly or by a trusted proxy's
 * X-Forwarded-Proto) and the Host header, or a trusted proxy's X-Forwarded-Host. Undefined without a usable host.
 */
export function ownOrigin(req: IncomingMessage, trust: TrustProxy): string | undefined {
  const forwarded = trust(req.socket.remoteAddress ?? '', 0) ? firstOf(req.headers['x-forwarded-host']) : undefined
  const host = forwarded || req.headers.host || firstOf(req.headers[':authority'])
  if (!host) return undefined
  return originOf(`${isSecure(req, trust) ? 'https' : 'http'}://${host}`)
}

/**
 * `value` as a serialized origin (lowercase scheme and host, default port dropped), or undefined when it is not an
 * http(s) origin: a path, query, fragment or user info, or anything that does not parse.
 */
export function originOf(value: string): string | undefined {
  if (!URL.canParse(value)) return undefined
  const url = new URL(value)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
  if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) return undefined
  return url.origin
}

/** A single-valued request header, trimmed; undefined when absent or empty. */
function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name]
  if (typeof value !== 'string') return undefined
  return value.trim() || undefined
}

/** The first entry of a comma-separated (or repeated) header, trimmed. */
function firstOf(value: string | string[] | undefined): string | undefined {
  const first = (Array.isArray(value) ? value[0] : value)?.split(',', 1)[0]?.trim()
  return first || undefined
}
