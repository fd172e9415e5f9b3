import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { clientIp } from '../core/request.ts'
import { storeCall } from '../core/store-call.ts'
import { CoatcheckError, invalidOption } from '../errors.ts'
import { contextOf, type Middleware } from '../session/middleware.ts'
import type { CounterState, CounterStore, SessionStore } from '../stores/types.ts'
import { fnOption, intOption, knownKeys } from '../validate.ts'
import { ipKey } from './ip.ts'

/** A limit: at most `max` attempts per `windowMs`. */
export interface Limit {
  /** Attempts allowed per window. Positive integer. */
  max: number
  /** The window, in ms, opened by its first attempt. Positive integer. */
  windowMs: number
}

/**
 * The request `account` is given: Express's `Request` when Express is in use (its `body` is `any`, so
 * `req.body.email` needs no cast).
 */
// biome-ignore lint/suspicious/noExplicitAny: a body parser's result is whatever the client sent.
export type ThrottledRequest = IncomingMessage & Express.Request & { body?: any }

/** Options of `loginThrottle`. Validated at start-up: an unknown key or a bad value throws, naming it. */
export interface LoginThrottleOptions {
  /**
   * The account an attempt is for (the submitted email, say); case and surrounding spaces are ignored. Anything but
   * a non-empty string (a missing field, or an array from a field sent twice) counts as no account: the attempt is
   * then limited per IP only. Default none.
   */
  account?(req: ThrottledRequest): unknown
  /**
   * Answers a throttled attempt instead of the default 429 JSON (to render the sign-in page saying when to try again,
   * say). It gets the seconds until the lockout ends; `Retry-After` and `Cache-Control: no-store` are already set,
   * and the status is 429 unless it changes it. Default: `429 {"error":"Too many attempts. Try again later."}`.
   */
  onLimited?(req: ThrottledRequest, res: ServerResponse, retryAfterSeconds: number): void
  /** Failed attempts allowed per account. Default 5 per 15 min. */
  perAccount?: Limit
  /** Attempts allowed per client IP (trust-proxy aware, via the session's `trustProxy`). Default 100 per 15 min. */
  perIp?: Limit
  /**
   * IPv6 clients are counted per network of this prefix length, since one client usually owns a whole /64; IPv4 and
   * IPv4-mapped IPv6 (`::ffff:1.2.3.4`) per address. Integer from 1 to 128. Default 64.
   */
  ipv6Subnet?: number
  /**
   * The first lockout lasts `baseMs`, each further one within a day twice as long, never more than `maxMs`. Positive
   * integers, `baseMs` ≤ `maxMs`. Default 1 min / 1 h.
   */
  backoff?: { baseMs: number; maxMs: number }
  /** Where the counters live, shared by every instance of the app. Default the session store. */
  store?: { counters: CounterStore }
}

const MINUTE = 60_000
const DAY = 24 * 60 * MINUTE
const MESSAGE = JSON.stringify({ error: 'Too many attempts. Try again later.' })
const FACTORY = 'loginThrottle()'

interface Subject {
  kind: 'account' | 'ip'
  key: string
  limit: Limit
}

/**
 * Throttles login attempts per account and per client IP, in the store's rate-limit counters so the limits hold across
 * instances. At most `max` attempts per window reach the handler, however they arrive: each attempt is let through
 * or refused by the count its own atomic hit returns. The attempt that goes over a limit locks that account (or IP)
 * out, once, for a while that doubles with each lockout of the day; the count starts again after the lockout.
 * Refused attempts get 429 with `Retry-After` and the same body whether or not the account exists. An attempt that
 * ends logged in (`logIn` ran and the status is below 400) clears the account's count. Counter calls are store
 * calls: a failing or silent store is a 503 within `storeTimeout` and a `store-error` event. Mount it on the login
 * route, after the body parser and the session middleware.
 */
export function loginThrottle(options: LoginThrottleOptions = {}): Middleware {
  knownKeys(FACTORY, options, ['account', 'onLimited', 'perAccount', 'perIp', 'ipv6Subnet', 'backoff', 'store'])
  const perAccount = limit('perAccount', options.perAccount, { max: 5, windowMs: 15 * MINUTE })
  const perIp = limit('perIp', options.perIp, { max: 100, windowMs: 15 * MINUTE })
  const ipv6Subnet = intOption('ipv6Subnet', options.ipv6Subnet, 64, { max: 128 })
  knownKeys(FACTORY, options.backoff, ['baseMs', 'maxMs'], { prefix: 'backoff.' })
  const backoff = options.backoff ?? { baseMs: MINUTE, maxMs: 60 * MINUTE }
  const baseMs = intOption('backoff.baseMs', backoff.baseMs, undefined)
  const maxMs = intOption('backoff.maxMs', backoff.maxMs, undefined)
  if (maxMs < baseMs) throw invalidOption('backoff', 'needs baseMs ≤ maxMs')
  const account = options.account
  if (account !== undefined && typeof account !== 'function') {
    throw invalidOption('account', 'must be a function of the request')
  }
  const store = options.store
  if (store !== undefined && typeof (store as { counters?: CounterStore } | null)?.counters?.hit !== 'function') {
    throw invalidOption('store', 'must have rate-limit counters')
  }
  // `req.body.email` throws when no body parser ran (Express 5 leaves req.body undefined): no account, not a 500.
  const accountOf = (req: IncomingMessage): unknown => {
    try {
      return account?.call(options, req as ThrottledRequest)
    } catch {
      return undefined
    }
  }
  const onLimited = fnOption<NonNullable<LoginThrottleOptions['onLimited']>>('onLimited', options.onLimited)
  const lockMs = (strike: number) => Math.min(baseMs * 2 ** (strike - 1), maxMs)

  return (req, res, next) => {
    attempt(req, res).then((allowed) => allowed && next(), next)
  }

  async function attempt(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const context = contextOf(req)
    const counters = countersOf(store ?? context.options.store)
    const call = <T>(work: () => Promise<T>) => storeCall(context.options, work)
    const name = accountOf(req)
    const normalized = typeof name === 'string' ? name.trim().toLowerCase() : ''
    const subjects: Subject[] = [
      ...(normalized ? [{ kind: 'account' as const, key: `a:${digest(normalized)}`, limit: perAccount }] : []),
      { kind: 'ip', key: `i:${ipKey(clientIp(req, context.options.trust), ipv6Subnet)}`, limit: perIp },
    ]
    const report = (subject: Subject) => () => context.emit({ type: 'throttled', limit: subject.kind })
    // The strike count names the current round of counting. It is read before the lock: the attempt that locks sets
    // the lock before it strikes, so whoever sees the new round also sees its lock.
    const strikes = await call(() => Promise.all(subjects.map((s) => counters.peek(`strikes:${s.key}`))))
    const locks = await call(() => Promise.all(subjects.map((s) => counters.peek(`lock:${s.key}`))))
    for (const [i, subject] of subjects.entries()) {
      const lock = locks[i]
      if (lock) return refuse(req, res, lock.resetAt - context.options.now(), report(subject))
    }
    const rounds = strikes.map(round)
    for (const [i, subject] of subjects.entries()) {
      const { count } = await call(() => counters.hit(`n:${subject.key}:${rounds[i]}`, subject.limit.windowMs))
      if (count <= subject.limit.max) continue
      const strike = (strikes[i]?.count ?? 0) + 1
      // Only the attempt that crossed the limit locks and strikes; the ones racing it are refused, nothing more.
      if (count === subject.limit.max + 1) {
        await call(() => counters.hit(`lock:${subject.key}`, lockMs(strike)))
        await call(() => counters.hit(`strikes:${subject.key}`, DAY))
      }
      return refuse(req, res, lockMs(strike), report(subject))
    }
    const first = subjects[0]!
    if (first.kind === 'account') {
      const keys = new Set([
        `n:${first.key}:${rounds[0]}`,
        `n:${first.key}:${round(undefined)}`,
        `strikes:${first.key}`,
      ])
      res.once('finish', () => {
        if (res.statusCode >= 400 || !context.loggedInHere) return
        // Best effort after the response: a failure here only leaves the count as it was.
        call(() => Promise.all([...keys].map((key) => counters.reset(key)))).catch(() => {})
      })
    }
    return true
  }

  function refuse(req: IncomingMessage, res: ServerResponse, retryMs: number, report: () => void): false {
    report()
    const seconds = Math.max(1, Math.ceil(retryMs / 1000))
    res.statusCode = 429
    res.setHeader('cache-control', 'no-store')
    res.setHeader('retry-after', String(seconds))
    if (onLimited) {
      onLimited.call(options, req as ThrottledRequest, res, seconds)
      return false
    }
    res.setHeader('content-type', 'application/json; charset=utf-8')
    res.end(MESSAGE)
    return false
  }
}

// A round of counting is named by its strike counter's window and count, so a round is never counted twice, even
// after a successful login forgot the strikes.
function round(strikes: CounterState | undefined): string {
  return strikes ? `${strikes.resetAt}.${strikes.count}` : '0'
}

function countersOf(store: SessionStore | { counters?: CounterStore }): CounterStore {
  const counters = (store as { counters?: CounterStore }).counters
  if (!counters) throw new CoatcheckError('INVALID_OPTION', 'coatcheck: loginThrottle needs a store with counters', 500)
  return counters
}

// Accounts are usually emails: the store sees only their hash.
function digest(account: string): string {
  return createHash('sha256').update(account).digest('base64url')
}

function limit(name: string, value: Limit | undefined, fallback: Limit): Limit {
  if (value === undefined) return fallback
  knownKeys(FACTORY, value, ['max', 'windowMs'], { prefix: `${name}.` })
  return {
    max: intOption(`${name}.max`, value.max, undefined),
    windowMs: intOption(`${name}.windowMs`, value.windowMs, undefined),
  }
}
