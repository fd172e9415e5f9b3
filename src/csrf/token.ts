/**
 * The synchronizer token: one random secret per session, handed out only as masked copies, and the signed
 * pre-session cookie that holds the secret of a visitor who has no stored session yet.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { type CookieAttributes, decodeCookieValue, rawCookieValues, serializeCookie } from '../core/cookie.ts'
import { type Secret, sign, unsign } from '../core/token.ts'

const SIZE = 32
/** A secret: 32 bytes, base64url (43 characters). */
const SECRET = /^[A-Za-z0-9_-]{43}$/
/** A masked token: mask ‖ (mask XOR secret), 64 bytes, base64url (86 characters). */
const TOKEN = /^[A-Za-z0-9_-]{86}$/
/**
 * The pre-session cookie signs `csrf:<secret>`, not the bare secret: a session cookie (which signs a bare token with
 * the same secrets) can then never pass for a pre-session cookie.
 */
const LABEL = 'csrf:'
const COOKIE: Readonly<CookieAttributes> = Object.freeze({
  path: '/',
  domain: undefined,
  httpOnly: true,
  sameSite: 'lax',
  partitioned: false,
  priority: undefined,
})

/** A new secret from the CSPRNG. */
export function newSecret(): string {
  return randomBytes(SIZE).toString('base64url')
}

/** True for a well-formed secret (what `newSecret` makes). */
export function isSecret(value: unknown): value is string {
  return typeof value === 'string' && SECRET.test(value)
}

/**
 * A masked copy of `secret`: a fresh random mask followed by the mask XOR the secret. Every call gives a different
 * string for the same secret, so a compressed response never repeats the secret's bytes (BREACH).
 */
export function maskToken(secret: string): string {
  const raw = Buffer.from(secret, 'base64url')
  const token = randomBytes(2 * SIZE)
  for (let i = 0; i < SIZE; i++) token[SIZE + i] = token[i]! ^ raw[i]!
  return token.toString('base64url')
}

/** What checking a submitted token found. */
export type TokenCheck = 'ok' | 'token-missing' | 'token-invalid'

/**
 * Checks a submitted value against the session's secret in constant time. Anything but a string of the exact shape
 * (an array from a repeated field, a number or object from JSON, 100 kB of text) is `token-invalid`, never an
 * exception; so is any token when there is no secret to check it against.
 */
export function checkToken(given: unknown, secret: string | undefined): TokenCheck {
  if (given === undefined || given === null || given === '') return 'token-missing'
  if (typeof given !== 'string' || !TOKEN.test(given) || secret === undefined) return 'token-invalid'
  const token = Buffer.from(given, 'base64url')
  const unmasked = Buffer.allocUnsafe(SIZE)
  for (let i = 0; i < SIZE; i++) unmasked[i] = token[i]! ^ token[SIZE + i]!
  return timingSafeEqual(unmasked, Buffer.from(secret, 'base64url')) ? 'ok' : 'token-invalid'
}

/** The pre-session cookie's name: `__Host-csrf` on a Secure response, `csrf` otherwise. */
export function preSessionName(secure: boolean): string {
  return secure ? '__Host-csrf' : 'csrf'
}

/** The secret in the request's pre-session cookie, when one is present and signed by one of `secrets`. */
export function readPreSession(
  header: string | undefined,
  name: string,
  secrets: readonly Secret[],
): string | undefined {
  for (const raw of rawCookieValues(header, name)) {
    const value = decodeCookieValue(raw)
    const inner = value === undefined ? undefined : unsign(value, secrets)
    if (inner?.startsWith(LABEL) && isSecret(inner.slice(LABEL.length))) return inner.slice(LABEL.length)
  }
  return undefined
}

/** True when the request carries a cookie of that name at all (signed or not). */
export function hasCookie(header: string | undefined, name: string): boolean {
  return rawCookieValues(header, name).length > 0
}

/**
 * The Set-Cookie value of a pre-session cookie holding `secret` (HttpOnly, SameSite=Lax, Path=/, no Domain, Secure
 * when `secure`, gone when the browser closes), or, without a secret, the one that expires it.
 */
export function preSessionCookie(name: string, secure: boolean, secret?: string, signer?: Secret): string {
  if (secret === undefined || signer === undefined) return serializeCookie(name, '', COOKIE, secure, 0)
  return serializeCookie(name, sign(`${LABEL}${secret}`, signer), COOKIE, secure, undefined)
}
