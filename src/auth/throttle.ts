import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { clientIp } from '../core/request.ts'
import { CoatcheckError, invalidOption } from '../errors.ts'
import { contextOf, type Middleware } from '../session/middleware.ts'
import type { CounterStore, SessionStore } from '../stores/types.ts'
import { intOption } from '../validate.ts'

/** A limit: at most `max` attempts per `windowMs`. */
export interface Limit {
  max: number
  windowMs: number
}

/** Options of `loginThrottle`. */
export interface LoginThrottleOptions {
  /** The account an attempt is for (the submitted email, say); case and surrounding spaces are ignored. Default none. */
  account?: (req: IncomingMessage) => string | undefined
  /** Failed attempts allowed per account. Default 5 per 15 min. */
  perAccount?: Limit
  /** Attempts allowed per client IP (trust-proxy aware, via the session's `trustProxy`). Default 100 per 15 min. */
  perIp?: Limit
  /** The first lockout lasts `baseMs`, each further one within a day twice as long, never more than `maxMs`. Default 1 min / 1 h. */
  backoff?: { baseMs: number; maxMs: number }
  /** Where the counters live, shared by every instance of the app. Default the session store. */
  store?: { counters: CounterStore }
}

const MINUTE = 60_000
const DAY = 24 * 60 * MINUTE
const MESSAGE = JSON.stringify({ error: 'Too many attempts. Try again later.' })

/**
 * Throttles login attempts per account and per client IP, in the store's rate-limit counters so the limits hold across
 * instances. An attempt over a limit locks that account (or IP) out for a while that doubles with each lockout of the
 * day; locked attempts get 429 with `Retry-After` and the same body whether or not the account exists. An attempt that
 * ends logged in (`logIn` ran and the status is below 400) clears the account's count. Mount it on the login route,
 * after the body parser and the session middleware.
 */
export function loginThrottle(options: LoginThrottleOptions = {}): Middleware {
  const perAccount = limit('perAccount', options.perAccount, { max: 5, windowMs: 15 * MINUTE })
  const perIp = limit('perIp', options.perIp, { max: 100, windowMs: 15 * MINUTE })
  const backoff = options.backoff ?? { baseMs: MINUTE, maxMs: 60 * MINUTE }
  const baseMs = intOption('backoff.baseMs', backoff.baseMs, undefined)
  if (intOption('backoff.maxMs', backoff.maxMs, undefined) < baseMs)
    throw invalidOption('backoff', 'needs baseMs ≤ maxMs')
  if (options.account !== undefined && typeof options.account !== 'function') {
    throw invalidOption('account', 'must be a function of the request')
  }
  if (options.store !== undefined && typeof options.store.counters?.hit !== 'function') {
    throw invalidOption('store', 'must have rate-limit counters')
  }

  return (req, res, next) => {
    attempt(req, res).then((allowed) => allowed && next(), next)
  }

  async function attempt(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const context = contextOf(req)
    const counters = countersOf(options.store ?? context.options.store)
    const now = context.options.now()
    const account = options.account?.(req)?.trim().toLowerCase()
    const subjects: Array<{ kind: 'account' | 'ip'; key: string; limit: Limit }> = [
      ...(account ? [{ kind: 'account' as const, key: `a:${digest(account)}`, limit: perAccount }] : []),
      { kind: 'ip', key: `i:${clientIp(req, context.options.trust)}`, limit: perIp },
    ]
    for (const subject of subjects) {
      const lock = await counters.peek(`lock:${subject.key}`)
      if (lock) return refuse(res, lock.resetAt - now, () => context.emit({ type: 'throttled', limit: subject.kind }))
    }
    for (const subject of subjects) {
      const { count } = await counters.hit(`n:${subject.key}`, subject.limit.windowMs)
      if (count <= subject.limit.max) continue
      const strikes = (await counters.hit(`strikes:${subject.key}`, DAY)).count
      const lockMs = Math.min(backoff.baseMs * 2 ** (strikes - 1), backoff.maxMs)
      await counters.hit(`lock:${subject.key}`, lockMs)
      await counters.reset(`n:${subject.key}`)
      return refuse(res, lockMs, () => context.emit({ type: 'throttled', limit: subject.kind }))
    }
    const accountKey = subjects[0]?.kind === 'account' ? subjects[0].key : undefined
    if (accountKey) {
      res.once('finish', () => {
        if (res.statusCode >= 400 || !context.loggedInHere) return
        // Best effort after the response: a failure here only leaves the count as it was.
        Promise.all([counters.reset(`n:${accountKey}`), counters.reset(`strikes:${accountKey}`)]).catch(() => {})
      })
    }
    return true
  }
}

function refuse(res: ServerResponse, retryMs: number, report: () => void): false {
  report()
  res.writeHead(429, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'retry-after': String(Math.max(1, Math.ceil(retryMs / 1000))),
  })
  res.end(MESSAGE)
  return false
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
  return {
    max: intOption(`${name}.max`, value?.max, undefined),
    windowMs: intOption(`${name}.windowMs`, value?.windowMs, undefined),
  }
}
