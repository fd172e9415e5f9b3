/**
 * Generated requests over real HTTP against the README's shape of app, on both faces: modern (`session()` +
 * `rememberMe()` + `csrf()` + throttled login, logout, a guarded route, a cart, regenerate) and drop-in
 * (`coatcheck/express-session` + `csrf()` + the same routes written the express-session way). Methods, paths, cookie
 * headers (genuine, tampered, duplicated, garbage), CSRF headers and fields, forwarded headers and bodies are
 * generated. Never a 500, never a crash, and no store read for a request without a validly signed cookie.
 */
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { Agent, request } from 'node:http'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import fc from 'fast-check'
import dropIn from '../../src/express-session/index.ts'
import { csrf, logIn, loginThrottle, logOut, memoryStore, rememberMe, requireAuth, session } from '../../src/index.ts'
import type { CoatcheckStore } from '../../src/stores/types.ts'
import { Browser, listen, type Running } from '../support/http.ts'

const SECRET = 'http-fuzz-secret-that-is-at-least-32-chars'
const RUNS = Number(process.env.HTTP_FUZZ_RUNS ?? 1500)
const USERS = new Map([['ada@example.com', 'correct horse battery staple']])

/** A store that counts the reads that need a signed cookie: sessions.get and tokens.get. */
function counting(inner: CoatcheckStore) {
  const counts = { get: 0, tokenGet: 0 }
  const tokens = new Proxy(inner.tokens, {
    get(target, name) {
      const member = Reflect.get(target, name)
      if (name !== 'get') return typeof member === 'function' ? member.bind(target) : member
      return (id: string) => {
        counts.tokenGet++
        return target.get(id)
      }
    },
  })
  const store = new Proxy(inner, {
    get(target, name) {
      if (name === 'tokens') return tokens
      const member = Reflect.get(target, name)
      if (name !== 'get') return typeof member === 'function' ? member.bind(target) : member
      return (key: string) => {
        counts.get++
        return target.get(key)
      }
    },
  })
  return { store, counts }
}

function passwordOk(body: unknown): string | undefined {
  const { email, password } = (body ?? {}) as Record<string, unknown>
  return typeof email === 'string' && USERS.get(email) === password ? email : undefined
}

function errorHandler(fiveHundreds: unknown[]) {
  return (error: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const status = typeof error?.status === 'number' ? error.status : 500
    if (status >= 500) fiveHundreds.push(error)
    res.status(status).send('error')
  }
}

function modernApp(store: CoatcheckStore, fiveHundreds: unknown[]) {
  const app = express()
  app.set('env', 'test')
  app.use(session({ secret: SECRET, store, trustProxy: true }))
  app.use(rememberMe())
  app.use(express.urlencoded({ extended: false }))
  app.use(express.json({ strict: false }))
  app.use(csrf())
  app.get('/', (req, res) => {
    res.send(`<input name="_csrf" value="${req.csrfToken()}">`)
  })
  app.post('/login', loginThrottle({ account: (req) => req.body?.email }), async (req, res) => {
    const user = passwordOk(req.body)
    if (!user) return res.status(401).send('Invalid credentials')
    await logIn(req, user, { remember: req.body.remember === 'on' })
    res.redirect(303, '/me')
  })
  app.post('/logout', async (req, res) => {
    await logOut(req, res)
    res.redirect(303, '/')
  })
  app.get('/me', requireAuth(), (req, res) => {
    res.json({ userId: req.session.userId })
  })
  app.post('/cart', (req, res) => {
    const item = req.body?.item
    req.session.cart = [...((req.session.cart as unknown[]) ?? []), item ?? null].slice(-5)
    res.json({ cart: req.session.cart })
  })
  app.post('/regenerate', async (req, res) => {
    await req.session.regenerate({ keep: true })
    res.json({ ok: true })
  })
  app.use(errorHandler(fiveHundreds))
  return app
}

function dropInApp(store: CoatcheckStore, fiveHundreds: unknown[]) {
  const app = express()
  app.set('env', 'test')
  app.set('trust proxy', true)
  app.use(dropIn({ secret: SECRET, store, resave: false, saveUninitialized: false }))
  app.use(express.urlencoded({ extended: false }))
  app.use(express.json({ strict: false }))
  app.use(csrf())
  app.get('/', (req, res) => {
    res.send(`<input name="_csrf" value="${req.csrfToken()}">`)
  })
  app.post('/login', (req, res, next) => {
    const user = passwordOk(req.body)
    if (!user) return res.status(401).send('Invalid credentials')
    req.session.regenerate((error) => {
      if (error) return next(error)
      ;(req.session as unknown as Record<string, unknown>).user = user
      req.session.save((error) => (error ? next(error) : res.redirect(303, '/me')))
    })
  })
  app.post('/logout', (req, res, next) => {
    req.session.destroy((error) => (error ? next(error) : res.redirect(303, '/')))
  })
  app.get('/me', (req, res) => {
    const user = (req.session as unknown as Record<string, unknown>).user
    if (!user) return res.status(401).send('Unauthorized')
    res.json({ user })
  })
  app.post('/cart', (req, res) => {
    const data = req.session as unknown as Record<string, unknown>
    data.cart = [...((data.cart as unknown[]) ?? []), req.body?.item ?? null].slice(-5)
    res.json({ cart: data.cart })
  })
  app.post('/regenerate', (req, res, next) => {
    req.session.regenerate((error) => (error ? next(error) : res.json({ ok: true })))
  })
  app.use(errorHandler(fiveHundreds))
  return app
}

/** Whether `value` (a raw cookie value) is `s:<v>.<hmac>` under SECRET, checked here independently of the library. */
function signed(raw: string): boolean {
  let value: string
  try {
    value = decodeURIComponent(raw.startsWith('"') && raw.endsWith('"') && raw.length > 1 ? raw.slice(1, -1) : raw)
  } catch {
    return false
  }
  const match = /^s:(.+)\.([^.]*)$/s.exec(value)
  if (!match) return false
  return createHmac('sha256', SECRET).update(match[1]!).digest('base64').replace(/=+$/, '') === match[2]
}

/** Whether a Cookie header holds a validly signed value under any of `names`. */
function carriesSigned(header: string | undefined, names: string[]): boolean {
  if (!header) return false
  return header.split(';').some((part) => {
    const eq = part.indexOf('=')
    return eq > 0 && names.includes(part.slice(0, eq).trim()) && signed(part.slice(eq + 1).trim())
  })
}

interface Face {
  name: string
  sessionNames: string[]
  rememberNames: string[]
  app: Running
  counts: { get: number; tokenGet: number }
  fiveHundreds: unknown[]
  /** Genuine values the server set, by cookie name, and a genuine CSRF token. */
  genuine: Map<string, string>
  token: string
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 })
// What Node lets a client send in a header: tab, space to ~, and 0x80-0xff.
const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c === 0x7f ? 0x09 : c)),
  maxLength: 40,
})

function mutateValue(value: string, how: number, at: number, text: string): string {
  const i = at % (value.length + 1)
  switch (how % 5) {
    case 0:
      return value.slice(0, i) + text + value.slice(i + 1)
    case 1:
      return value.slice(0, i)
    case 2:
      return value.slice(0, i) + text + value.slice(i)
    case 3:
      return value.replace(/%3A/i, ':')
    default:
      return `"${value}"`
  }
}

function requestArbitrary(face: Face) {
  const names = [...face.sessionNames, ...face.rememberNames, 'csrf', '__Host-csrf', 'other']
  const genuinePair = fc.constantFrom(...face.genuine.entries())
  const pair = fc.oneof(
    { weight: 3, arbitrary: genuinePair.map(([n, v]) => `${n}=${v}`) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(
          genuinePair,
          fc.nat(),
          fc.nat(),
          fc.string({
            unit: fc.constantFrom('a', 'Z', '.', '%', '%3A', '=', '"', 's:', '0'),
            minLength: 1,
            maxLength: 3,
          }),
        )
        .map(([[n, v], how, at, text]) => `${n}=${mutateValue(v, how, at, text)}`),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.constantFrom(...names), printable).map(([n, v]) => `${n}=${v.replace(/;/g, '')}`),
    },
    { weight: 1, arbitrary: printable },
  )
  const cookie = fc.option(
    fc
      .tuple(fc.array(pair, { maxLength: 5 }), fc.constantFrom('; ', ';', ' ; '))
      .map(([pairs, sep]) => pairs.join(sep)),
    { nil: undefined, freq: 5 },
  )
  const csrfField = fc.oneof(
    fc.constant(face.token),
    printable,
    fc.constant(''),
    fc.array(fc.constant(face.token), { maxLength: 2 }),
  )
  const jsonBody = fc
    .record(
      {
        email: fc.oneof(fc.constant('ada@example.com'), printable, fc.array(printable, { maxLength: 2 }), fc.integer()),
        password: fc.oneof(fc.constant(USERS.get('ada@example.com')!), printable, fc.constant(null), fc.object()),
        remember: fc.constantFrom('on', 'off', true),
        _csrf: csrfField,
        item: fc.jsonValue({ maxDepth: 3 }),
      },
      { requiredKeys: [] },
    )
    .map((body) => ({ type: 'application/json', text: JSON.stringify(body) }))
  const formBody = fc
    .array(
      fc.tuple(
        fc.constantFrom('email', 'password', 'remember', '_csrf', 'item', 'email[]', '__proto__', 'a'),
        fc.oneof(printable, csrfField.map(String)),
      ),
      { maxLength: 6 },
    )
    .map((entries) => ({ type: 'application/x-www-form-urlencoded', text: new URLSearchParams(entries).toString() }))
  const body = fc.option(
    fc.oneof(
      jsonBody,
      formBody,
      fc.record({
        type: fc.constantFrom(
          'application/json',
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/json; charset=utf-16',
        ),
        text: printable,
      }),
    ),
    { nil: undefined },
  )
  return fc.record({
    method: fc.constantFrom('GET', 'GET', 'HEAD', 'POST', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'OPTIONS'),
    path: fc.constantFrom(
      '/',
      '/login',
      '/login',
      '/logout',
      '/me',
      '/me',
      '/cart',
      '/cart',
      '/regenerate',
      '/nope',
      '/%',
      '/me?x=%zz',
    ),
    cookie,
    secFetchSite: fc.option(
      fc.oneof(
        { weight: 4, arbitrary: fc.constant('same-origin') },
        { weight: 1, arbitrary: fc.constantFrom('same-site', 'cross-site', 'none', 'SAME-ORIGIN', 'x') },
      ),
      { nil: undefined },
    ),
    origin: fc.option(
      fc.oneof(
        fc.constant(face.app.url),
        fc.constantFrom('null', 'https://evil.example', 'http://127.0.0.1'),
        printable,
      ),
      { nil: undefined },
    ),
    csrfHeader: fc.option(csrfField.map(String), { nil: undefined }),
    forwardedProto: fc.option(fc.oneof(fc.constantFrom('https', 'http', 'https, http', 'HTTPS'), printable), {
      nil: undefined,
    }),
    forwardedFor: fc.option(
      fc.oneof(fc.constantFrom('203.0.113.9', '2001:db8::1, 10.0.0.1', '::ffff:1.2.3.4', 'unknown'), printable),
      { nil: undefined },
    ),
    body,
  })
}

type Generated = ReturnType<typeof requestArbitrary> extends fc.Arbitrary<infer T> ? T : never

function send(face: Face, r: Generated): Promise<number> {
  const headers: Record<string, string> = {}
  if (r.cookie !== undefined) headers.cookie = r.cookie
  if (r.secFetchSite !== undefined) headers['sec-fetch-site'] = r.secFetchSite
  if (r.origin !== undefined) headers.origin = r.origin
  if (r.csrfHeader !== undefined) headers['x-csrf-token'] = r.csrfHeader
  if (r.forwardedProto !== undefined) headers['x-forwarded-proto'] = r.forwardedProto
  if (r.forwardedFor !== undefined) headers['x-forwarded-for'] = r.forwardedFor
  const payload = r.body && r.method !== 'GET' && r.method !== 'HEAD' ? Buffer.from(r.body.text, 'latin1') : undefined
  if (payload) {
    headers['content-type'] = r.body!.type
    headers['content-length'] = String(payload.length)
  }
  return new Promise((resolve, reject) => {
    const url = new URL(face.app.url)
    const req = request(
      { host: url.hostname, port: url.port, method: r.method, path: r.path, headers, agent },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}

/** Logs a browser in with remember-me and collects the genuine cookies and a CSRF token the face hands out. */
async function prime(face: Omit<Face, 'genuine' | 'token'>): Promise<Face> {
  const browser = new Browser(face.app.url)
  const form = await browser.get('/')
  const token = /value="([^"]+)"/.exec(form.body)![1]!
  const genuine = new Map(browser.jar)
  const login = await browser.request('/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' },
    body: JSON.stringify({ email: 'ada@example.com', password: USERS.get('ada@example.com'), remember: 'on' }),
  })
  assert.equal(login.status, 303, login.body)
  for (const [name, value] of browser.jar) genuine.set(name, value)
  return { ...face, genuine, token }
}

describe('generated requests over HTTP (both faces)', () => {
  const faces: Face[] = []
  const crashes: unknown[] = []
  const onCrash = (error: unknown) => crashes.push(error)
  before(async () => {
    process.on('uncaughtException', onCrash)
    process.on('unhandledRejection', onCrash)
    for (const [name, make, sessionNames, rememberNames] of [
      ['modern', modernApp, ['sid', '__Host-sid'], ['remember', '__Host-remember']],
      ['drop-in', dropInApp, ['connect.sid'], []],
    ] as const) {
      const { store, counts } = counting(memoryStore())
      const fiveHundreds: unknown[] = []
      const app = await listen(make(store, fiveHundreds))
      faces.push(
        await prime({
          name,
          sessionNames: [...sessionNames],
          rememberNames: [...rememberNames],
          app,
          counts,
          fiveHundreds,
        }),
      )
    }
  })
  after(async () => {
    process.off('uncaughtException', onCrash)
    process.off('unhandledRejection', onCrash)
    agent.destroy()
    for (const face of faces) await face.app.close()
  })

  for (const name of ['modern', 'drop-in']) {
    it(`${name}: never a 500, never a crash, no store read without a signed cookie`, async (t) => {
      const face = faces.find((f) => f.name === name)!
      const statuses: Record<number, number> = {}
      let unsigned = 0
      await fc.assert(
        fc.asyncProperty(requestArbitrary(face), async (r) => {
          const before = { ...face.counts }
          const status = await send(face, r)
          statuses[status] = (statuses[status] ?? 0) + 1
          assert.ok(status < 500, `${status} for ${JSON.stringify(r)}: ${String(face.fiveHundreds.at(-1))}`)
          if (!carriesSigned(r.cookie, face.sessionNames)) {
            unsigned++
            assert.equal(face.counts.get, before.get, `a session read without a signed cookie: ${JSON.stringify(r)}`)
          }
          if (!carriesSigned(r.cookie, face.rememberNames)) {
            assert.equal(
              face.counts.tokenGet,
              before.tokenGet,
              `a token read without a signed cookie: ${JSON.stringify(r)}`,
            )
          }
        }),
        { numRuns: RUNS },
      )
      t.diagnostic(
        `${RUNS} requests, ${unsigned} without a signed session cookie; statuses ${JSON.stringify(statuses)}`,
      )
      assert.deepEqual(face.fiveHundreds, [])
      assert.deepEqual(crashes, [])
    })
  }
})
