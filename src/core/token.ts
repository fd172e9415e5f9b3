import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { cookieValues, decodeCookieValue, MAX_SESSION_COOKIES } from './cookie.ts'

/** A new session token: 32 bytes from the CSPRNG, base64url (43 characters). */
export function newToken(): string {
  return randomBytes(32).toString('base64url')
}

/** The store key of a token: its SHA-256, so a dump of the store cannot be replayed as cookies. */
export function hashedKey(token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

/** A short, non-reversible handle for a store key, safe for logs and events. */
export function shortId(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12)
}

/** A signing secret: a string, or raw bytes (express-session accepts Buffers). */
export type Secret = string | Buffer

function signature(value: string, secret: Secret): string {
  // express-session's format (cookie-signature): standard base64 with the padding stripped.
  return createHmac('sha256', secret).update(value).digest('base64').replace(/=+$/, '')
}

/** `s:<value>.<HMAC-SHA256>`, the cookie value express-session writes (before URI encoding). */
export function sign(value: string, secret: Secret): string {
  return `s:${value}.${signature(value, secret)}`
}

/**
 * The value inside a signed cookie value, or undefined when it is not signed by one of `secrets`. Every secret is
 * tried (rotation: the first signs, all verify) and each comparison is constant-time.
 */
export function unsign(signed: string, secrets: readonly Secret[]): string | undefined {
  if (!signed.startsWith('s:')) return undefined
  const dot = signed.lastIndexOf('.')
  if (dot < 3) return undefined
  const value = signed.slice(2, dot)
  const given = Buffer.from(signed.slice(dot + 1))
  for (const secret of secrets) {
    const expected = Buffer.from(signature(value, secret))
    if (expected.length === given.length && timingSafeEqual(expected, given)) return value
  }
  return undefined
}

/** A cookie value that verified, with what it names. */
export interface Verified {
  token: string
  key: string
}

/**
 * Verifies signed cookie values and derives their store keys, remembering the last `max` values that verified so
 * that repeat requests skip the HMAC and the SHA-256 (about 3.5 µs of a read). Only values that verified are kept,
 * so a guess always pays the full, constant-time check; a remembered value still needs its record in the store.
 */
export class VerifiedCookies {
  readonly #secrets: readonly Secret[]
  readonly #max: number
  readonly #seen = new Map<string, Verified>()

  constructor(secrets: readonly Secret[], max = 4096) {
    this.#secrets = secrets
    this.#max = max
  }

  /** `raw` is the cookie value as sent (see `rawCookieValues`): it is decoded only when not remembered. */
  verify(raw: string): Verified | undefined {
    const seen = this.#seen.get(raw)
    if (seen) return seen
    const signed = decodeCookieValue(raw)
    const token = signed === undefined ? undefined : unsign(signed, this.#secrets)
    if (token === undefined) return undefined
    const verified = { token, key: hashedKey(token) }
    if (this.#seen.size >= this.#max) this.#seen.delete(this.#seen.keys().next().value!)
    this.#seen.set(raw, verified)
    return verified
  }
}

/**
 * The distinct IDs of the cookies `name` that verify against `secrets` (express-session's `s:` format), in header
 * order, at most {@link MAX_SESSION_COOKIES}: the drop-in face and upgradeSessions try them in turn.
 */
export function signedIds(header: string | undefined, name: string, secrets: readonly Secret[]): string[] {
  const ids: string[] = []
  for (const value of cookieValues(header, name)) {
    const id = unsign(value, secrets)
    if (id === undefined || ids.includes(id)) continue
    if (ids.length >= MAX_SESSION_COOKIES) break
    ids.push(id)
  }
  return ids
}

/** The first of `ids` that `get` finds, with what it found; in order, one call at a time. */
export async function firstFound<T>(
  ids: readonly string[],
  get: (id: string) => Promise<T | undefined>,
): Promise<[string, T] | undefined> {
  for (const id of ids) {
    const found = await get(id)
    if (found !== undefined) return [id, found]
  }
  return undefined
}
