import express, { type Express, type Request } from 'express'
import {
  type CsrfOptions,
  csrf,
  logIn,
  logOut,
  memoryStore,
  type SessionEvent,
  type SessionOptions,
  session,
} from '../../src/index.ts'
import type { CoatcheckStore, SessionRecord } from '../../src/stores/types.ts'
import { Browser, listen, type Reply, type Running } from '../support/http.ts'

export const SECRET = 'csrf-test-secret-that-is-at-least-32-chars'

/** Wraps a store to remember every key a session was created under, so a test can read back everything stored. */
export class Recorded {
  readonly keys = new Set<string>()
  readonly store: CoatcheckStore
  readonly inner: CoatcheckStore

  constructor(inner: CoatcheckStore) {
    this.inner = inner
    this.store = new Proxy(inner, {
      get: (target, name, receiver) => {
        const member = Reflect.get(target, name, receiver)
        if (typeof member !== 'function') return member
        if (name !== 'create') return member.bind(target)
        return (key: string, ...rest: unknown[]) => {
          this.keys.add(key)
          return member.call(target, key, ...rest)
        }
      },
    })
  }

  /** Every live session record, by key. */
  async contents(): Promise<Record<string, SessionRecord>> {
    const out: Record<string, SessionRecord> = {}
    for (const key of this.keys) {
      const record = await this.inner.get(key)
      if (record) out[key] = structuredClone(record)
    }
    return out
  }
}

export interface CsrfApp extends Running {
  recorded: Recorded
  events: SessionEvent[]
  browser(): Browser
}

/**
 * An Express 5 app in the README's shape: session(), body parsers, csrf(), and routes that render tokens (GET /form,
 * GET /tokens), change the session (POST /session, POST /transfer) and log in (POST /login).
 */
export async function startModern(
  store: CoatcheckStore = memoryStore(),
  options: { csrf?: CsrfOptions; session?: Partial<SessionOptions>; before?: (app: Express) => void } = {},
): Promise<CsrfApp> {
  const recorded = new Recorded(store)
  const events: SessionEvent[] = []
  const app = express()
  app.set('env', 'test')
  options.before?.(app)
  app.use(session({ secret: SECRET, store: recorded.store, onEvent: (e) => events.push(e), ...options.session }))
  app.use(express.urlencoded({ extended: false }))
  app.use(express.json({ strict: false }))
  app.use(csrf(options.csrf))
  routes(app)
  const running = await listen(app)
  return {
    ...running,
    recorded,
    events,
    browser: () => new Browser(running.url),
    close: async () => {
      await running.close()
      await (store as { close?: () => Promise<void> }).close?.()
    },
  }
}

/** The routes both faces share. */
export function routes(app: Express): void {
  /** The session as a plain record: these routes serve both faces. */
  const data = (req: Request) => req.session as unknown as Record<string, unknown>
  app.get('/form', (req, res) => {
    res
      .type('html')
      .send(`<form method="post" action="/transfer"><input name="_csrf" value="${req.csrfToken()}"></form>`)
  })
  app.get('/tokens', (req, res) => {
    res.json([req.csrfToken(), req.csrfToken(), req.csrfToken()])
  })
  app.get('/session', (req, res) => {
    res.json({ userId: req.session.userId ?? null, data: { ...data(req) } })
  })
  app.post('/session', (req, res) => {
    const { _csrf, ...fields } = req.body ?? {}
    Object.assign(data(req), fields)
    res.json({ ok: true })
  })
  // Stores a value and renders a token in the same response: the session becomes stored by this very request.
  app.post('/cart-and-form', (req, res) => {
    data(req).cart = ['apple']
    res.json({ token: req.csrfToken() })
  })
  app.post('/transfer', (req, res) => {
    const session = data(req)
    session.balance = Number(session.balance ?? 100) - 10
    res.json({ balance: session.balance })
  })
  app.all('/any', (req, res) => {
    res.json({ method: req.method })
  })
  app.post('/login', async (req, res) => {
    await logIn(req, String(req.body?.user ?? 'alice'))
    res.json({ ok: true })
  })
  // A logout that renders the next form itself.
  app.post('/logout-and-form', async (req, res) => {
    await logOut(req, res)
    res.json({ token: req.csrfToken() })
  })
  app.get('/login', (req, res) => {
    res.type('html').send(`<form method="post"><input name="_csrf" value="${req.csrfToken()}"></form>`)
  })
}

/** The token in a page rendered by GET /form or GET /login. */
export function tokenIn(reply: Reply): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(reply.body)
  if (!match) throw new Error(`no token in ${reply.status} ${reply.body.slice(0, 200)}`)
  return match[1]!
}

/** A form post with the token in `_csrf`, sent the way a client without Fetch Metadata or Origin sends it. */
export function formPost(browser: Browser, path: string, fields: Record<string, string | string[]> = {}) {
  const body = new URLSearchParams()
  for (const [name, value] of Object.entries(fields)) {
    for (const v of Array.isArray(value) ? value : [value]) body.append(name, v)
  }
  return browser.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: body.toString(),
  })
}

/** A POST with the given headers (Sec-Fetch-Site, Origin, Accept...) and a small form body. */
export function postWith(browser: Browser, path: string, headers: Record<string, string>, body = 'amount=10') {
  return browser.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  })
}

/** Same-origin, as a modern browser's own page sends it. */
export const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin' }
