import express from 'express'
import { logIn, logOut, rememberMe, type SessionEvent, type SessionOptions, session } from '../../src/index.ts'
import type { CoatcheckStore, SessionStore } from '../../src/stores/types.ts'
import { Gate } from '../support/gate.ts'
import { Browser, listen, type Running } from '../support/http.ts'

// Session data keys are open to any name in the tests: see the SessionData augmentation in test/session/harness.ts.
export const SECRET = 'reliability-secret-that-is-at-least-32-chars'

/** Wraps a store to remember every key a session was created under, so a test can read back everything stored. */
export function recording<S extends SessionStore>(
  inner: S,
): { store: S; keys: Set<string>; live(): Promise<string[]> } {
  const keys = new Set<string>()
  const store = new Proxy(inner, {
    get(target, name, receiver) {
      const member = Reflect.get(target, name, receiver)
      if (typeof member !== 'function') return member
      if (name !== 'create') return member.bind(target)
      return (key: string, ...rest: unknown[]) => {
        keys.add(key)
        return member.call(target, key, ...rest)
      }
    },
  })
  return {
    store,
    keys,
    async live() {
      const found: string[] = []
      for (const key of keys) if (await inner.get(key)) found.push(key)
      return found
    },
  }
}

export interface App extends Running {
  /** Gates by name: a request with `?gate=<name>` waits at it after its session loaded (before rememberMe()). */
  gates: Map<string, Gate>
  gate(name: string): Gate
  /** The first 10 000 session events. */
  events: SessionEvent[]
  /** Errors that reached the error handler with a status of 500 (or none): a 500 is a bug. */
  fiveHundreds: unknown[]
  browser(): Browser
}

/**
 * An app in the README's shape on `store`: session(), rememberMe() when the store keeps tokens, and routes that log in
 * and out, set keys, write pairs (for torn-record checks), increment, regenerate and visit read-only.
 */
export async function startApp(store: SessionStore, options: Partial<SessionOptions> = {}): Promise<App> {
  const gates = new Map<string, Gate>()
  const events: SessionEvent[] = []
  const fiveHundreds: unknown[] = []
  const app = express()
  app.set('env', 'test')
  app.use(express.json())
  // Bounded, so that a soak (bench/soak.ts) running this app for minutes does not grow by its own bookkeeping.
  const onEvent = (event: SessionEvent) => {
    if (events.length < 10_000) events.push(event)
  }
  app.use(session({ secret: SECRET, store, onEvent, ...options }))
  app.use(async (req, _res, next) => {
    const gate = typeof req.query.gate === 'string' ? gates.get(req.query.gate) : undefined
    if (gate) await gate.wait()
    next()
  })
  if ((store as Partial<CoatcheckStore>).tokens) app.use(rememberMe())
  app.post('/login/:id', async (req, res) => {
    await logIn(req, req.params.id, { remember: req.query.remember === '1' })
    res.json({ userId: req.session.userId })
  })
  app.post('/logout', async (req, res) => {
    await logOut(req, res, { everywhere: req.query.everywhere === '1' })
    res.json({ ok: true })
  })
  app.get('/me', (req, res) => {
    res.json({ userId: req.session.userId, data: { ...req.session } })
  })
  app.post('/set/:key', (req, res) => {
    req.session[req.params.key] = req.body?.value ?? true
    res.json({ userId: req.session.userId })
  })
  app.post('/pair/:i', (req, res) => {
    const i = Number(req.params.i)
    req.session.a = i
    req.session.b = { i, text: `written by ${i}` }
    res.json({ ok: true })
  })
  app.post('/incr/:i', (req, res) => {
    const n = Number(req.session.n ?? 0) + 1
    req.session.n = n
    req.session.last = [Number(req.params.i), n]
    res.json({ n })
  })
  app.post('/regenerate', async (req, res) => {
    await req.session.regenerate({ keep: true })
    res.json({ userId: req.session.userId })
  })
  app.get('/visit', (req, res) => {
    // Reads, and reads the ID (which names a token, but stores nothing): a first visit must stay unstored.
    res.json({ seen: req.session.seen ?? null, id: req.session.id.length > 0 })
  })
  app.post('/flash', (req, res) => {
    req.session.flash = 'hello'
    delete req.session.flash
    res.json({ ok: true })
  })
  app.use((error: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const status = typeof error?.status === 'number' ? error.status : 500
    if (status >= 500 && status !== 503) fiveHundreds.push(error)
    res.status(status).json({ error: String((error as { code?: string })?.code ?? status) })
  })
  const running = await listen(app)
  return {
    ...running,
    gates,
    gate(name) {
      const gate = new Gate()
      gates.set(name, gate)
      return gate
    },
    events,
    fiveHundreds,
    browser: () => new Browser(running.url),
  }
}

/** Counts of each status in `statuses`, as `{ "200": 40, "503": 10 }`. */
export function tally(statuses: number[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1
  return counts
}

/**
 * Wraps a store so that the next call of one method (`'update'`, `'tokens.rotate'`...) is held after the store
 * answered, until the test releases it: a timing a real server cannot be asked for, to replay one interleaving of two
 * requests exactly.
 */
export function pausable<S extends SessionStore & Partial<CoatcheckStore>>(inner: S) {
  let armed: { method: string; reached: () => void; released: Promise<void> } | undefined
  const wrap = <T extends object>(target: T, prefix: string): T =>
    new Proxy(target, {
      get(t, name, receiver) {
        const member = Reflect.get(t, name, receiver)
        if (name === 'tokens' && prefix === '' && member) return wrap(member as object, 'tokens.')
        if (typeof member !== 'function') return member
        return async (...args: unknown[]) => {
          const result = await member.apply(t, args)
          const hold = armed
          if (hold && hold.method === `${prefix}${String(name)}`) {
            armed = undefined
            hold.reached()
            await hold.released
          }
          return result
        }
      },
    })
  return {
    store: wrap(inner, ''),
    /** Holds the next call of `method`; resolves `reached` once it is held, and `release()` lets it go on. */
    pause(method: string) {
      let release!: () => void
      let reached!: () => void
      const released = new Promise<void>((resolve) => {
        release = resolve
      })
      const atPause = new Promise<void>((resolve) => {
        reached = resolve
      })
      armed = { method, reached, released }
      return { reached: atPause, release }
    },
  }
}
