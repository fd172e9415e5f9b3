/**
 * coatcheck's guards, fitted to pages: a signed-out visitor is sent to "Sign in" and comes back where they were going;
 * a stale session is sent to "Confirm your password" and comes back; a throttled sign-in gets the sign-in page saying
 * when to try again. `?next=` only ever leads to a path on this site.
 */
import type { Request, Response } from 'express'
import {
  type LoginThrottleOptions,
  loginThrottle,
  type Middleware,
  requireAuth,
  requireFresh,
} from '../../../src/index.ts'

const BASE = 'http://local.invalid'

/** Where `next` may lead: a path on this site, else the dashboard (`//evil.example`, `/\evil`, `javascript:`...). */
export function safeNext(next: unknown, fallback = '/dashboard'): string {
  if (typeof next !== 'string' || !next.startsWith('/')) return fallback
  // Parsed as a browser would (which drops tabs and newlines, and reads `\` as `/`), then checked again.
  const url = new URL(next, BASE)
  const local = url.pathname + url.search + url.hash
  return url.origin === BASE && /^\/(?![/\\])/.test(local) ? local : fallback
}

/** The page at `path` needs a signed-in visitor: others get a 303 to Sign in, which brings them back here. */
export const signedIn = (path: string): Middleware =>
  requireAuth({ redirectTo: `/login?next=${encodeURIComponent(path)}` })

/** The password must have been entered within `maxAgeMs` (never true of a remembered session), else Confirm. */
export const freshSignIn = (maxAgeMs: number, back: string): Middleware =>
  requireFresh(maxAgeMs, { redirectTo: `/confirm?next=${encodeURIComponent(back)}` })

/** loginThrottle, whose refusal is `page(req, res, retryAfterSeconds)`: the sign-in page saying when to try again. */
export function throttle(
  options: LoginThrottleOptions,
  page: (req: Request, res: Response, retryAfter: number) => void,
): Middleware {
  return loginThrottle({
    ...options,
    onLimited: (req, res, retryAfter) => page(req as Request, res as Response, retryAfter),
  })
}
