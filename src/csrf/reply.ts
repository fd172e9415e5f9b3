/** What a refused request gets back, and the `Vary` header of every decided one. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { CoatcheckError } from '../errors.ts'

const REJECTED = 'coatcheck: csrf() refused this request (the csrf-rejected event says why)'

const HTML =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Forbidden</title></head><body>' +
  '<h1>Forbidden</h1><p>This request could not be verified. Reload the page and try again.</p></body></html>\n'
const JSON_BODY = '{"error":"Forbidden","message":"This request could not be verified."}\n'

/**
 * The app's answer to a refused request (the `onRejected` option). A method type, so a function taking Express's
 * `Request` and `Response` fits it too.
 */
export type OnRejected = {
  onRejected(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): unknown
}['onRejected']

/**
 * Answers 403, `no-store` (a refusal is never cached): through the app's `onRejected` when it has one (a throw or a
 * rejected promise goes to `next`, and so does a `next()` without an error, as a 403 `CSRF_REJECTED`), else with a generic body, JSON when the client prefers it (`Accept`), HTML
 * otherwise. Neither is told why, so a probe learns nothing; the `csrf-rejected` event carries the reason.
 */
export function refuse(
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
  onRejected: OnRejected | undefined,
): void {
  res.statusCode = 403
  res.setHeader('Cache-Control', 'no-store')
  if (onRejected) {
    // `next()` without an error (or what Express's router reads as none: `'route'`, `'router'`, a falsy value) must not
    // let the refused request through: it becomes a 403 CSRF_REJECTED.
    const onward = (error?: unknown) =>
      next(
        error && error !== 'route' && error !== 'router' ? error : new CoatcheckError('CSRF_REJECTED', REJECTED, 403),
      )
    try {
      const answered = onRejected(req, res, onward)
      if (isThenable(answered)) answered.then(undefined, onward)
    } catch (error) {
      onward(error)
    }
    return
  }
  const json = prefersJson(req.headers.accept)
  const body = json ? JSON_BODY : HTML
  appendVary(res, ['Accept'])
  res.setHeader('Content-Type', json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8')
  res.setHeader('Content-Length', Buffer.byteLength(body))
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.end(body)
}

/** Adds `fields` to the response's `Vary`, keeping what is there, without duplicates (case-insensitive) or after `*`. */
export function appendVary(res: ServerResponse, fields: readonly string[]): void {
  const current = res.getHeader('Vary')
  const text = Array.isArray(current) ? current.join(',') : current === undefined ? '' : String(current)
  const present = text
    .split(',')
    .map((field) => field.trim())
    .filter(Boolean)
  if (present.includes('*')) return
  const seen = new Set(present.map((field) => field.toLowerCase()))
  const added = fields.filter((field) => !seen.has(field.toLowerCase()))
  if (added.length > 0) res.setHeader('Vary', [...present, ...added].join(', '))
}

/** True when `Accept` rates JSON (`application/json`, `*+json`) above HTML; a tie, `*\/*` or no header is HTML. */
export function prefersJson(accept: string | undefined): boolean {
  if (!accept) return false
  let html = -1
  let json = -1
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase())
    const qParam = params.find((param) => param.startsWith('q='))
    const q = qParam === undefined ? 1 : Number(qParam.slice(2))
    if (!(q >= 0 && q <= 1)) continue
    if (type === 'text/html' || type === 'application/xhtml+xml') html = Math.max(html, q)
    else if (type === 'application/json' || type.endsWith('+json')) json = Math.max(json, q)
  }
  return json > 0 && json > html
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function'
}
