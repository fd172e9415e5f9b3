/** The reference app from outside a browser: start-up and configuration, the JSON API, and where users live. */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { safeNext } from '../../examples/app/routes/guards.ts'
import { Browser } from '../support/http.ts'
import { type RunningPostgres, startPostgres } from '../support/postgres.ts'
import { type RunningApp, runAppToExit, startApp } from './support/app.ts'

const PASSWORD = 'a password for the api tests'

/** A form post the way a browser without Fetch Metadata would send it: with the page's `_csrf` token. */
async function postForm(client: Browser, page: string, action: string, fields: Record<string, string>) {
  const form = await client.get(page)
  const token = /name="_csrf" value="([^"]+)"/.exec(form.body)?.[1]
  assert.ok(token, `${page} has a CSRF token`)
  return client.request(action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: token, ...fields }).toString(),
  })
}

const register = (client: Browser, email: string) =>
  postForm(client, '/register', '/register', { email, password: PASSWORD })

describe('the reference app: start-up', () => {
  const dirs: string[] = []
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'coatcheck-app-'))
    dirs.push(dir)
    return dir
  }
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })

  it('in development, generates a secret into the data dir, says so, and keeps it for the next start', async () => {
    const dir = tempDir()
    const first = await startApp({ SESSION_SECRET: undefined }, dir)
    await first.stop()
    assert.match(
      first.output(),
      /cookies signed with: .*session-secret \(generated now; development only, set SESSION_SECRET in production\)/,
    )
    assert.match(first.output(), /sessions and users: sqlite:.*app\.db/)
    const secret = readFileSync(join(dir, 'session-secret'), 'utf8')
    assert.ok(secret.trim().length >= 32)
    assert.equal(statSync(join(dir, 'session-secret')).mode & 0o777, 0o600)
    const second = await startApp({ SESSION_SECRET: undefined }, dir)
    await second.stop()
    assert.doesNotMatch(second.output(), /generated now/)
    assert.equal(readFileSync(join(dir, 'session-secret'), 'utf8'), secret)
  })

  it('refuses to start in production without SESSION_SECRET', async () => {
    const { code, output } = await runAppToExit({ NODE_ENV: 'production', SESSION_SECRET: undefined }, tempDir())
    assert.equal(code, 1)
    assert.match(output, /SESSION_SECRET is required when NODE_ENV=production/)
  })

  it('exits non-zero, saying so, when the port is in use', async () => {
    const busy = createServer().listen(0, '127.0.0.1')
    await once(busy, 'listening')
    const { port } = busy.address() as { port: number }
    try {
      const { code, output } = await runAppToExit({ PORT: String(port) }, tempDir())
      assert.equal(code, 1)
      assert.match(output, new RegExp(`port ${port} is in use; set PORT`))
    } finally {
      busy.close()
    }
  })

  it('names what is wrong with a bad STORE_URL or setting', async () => {
    const bad = await runAppToExit({ STORE_URL: 'mysql://nope' }, tempDir())
    assert.equal(bad.code, 2)
    assert.match(bad.output, /is not one of sqlite:<path>, redis:\/\/…/)
    const proxy = await runAppToExit({ TRUST_PROXY: 'maybe' }, tempDir())
    assert.equal(proxy.code, 1)
    assert.match(proxy.output, /TRUST_PROXY must be true, false or a number of hops/)
  })
})

describe('the reference app: ?next= after signing in', () => {
  it('leads only to a path on this site', () => {
    for (const local of ['/devices', '/devices?tab=2#top', '/%2F/x']) assert.equal(safeNext(local), local)
    const hostile = [
      '//evil.example',
      '/\\evil.example',
      '/\t/evil.example',
      '/.//evil.example',
      '/a/../..//evil.example',
    ]
    for (const next of [...hostile, 'javascript:alert(1)', 'https://evil.example/', 'devices', '', undefined, ['/a']]) {
      assert.equal(safeNext(next), '/dashboard', JSON.stringify(next))
    }
  })
})

describe('the reference app: the JSON API and the users table (SQLite)', () => {
  let app: RunningApp
  before(async () => {
    app = await startApp()
  })
  after(() => app?.stop())

  it('keeps users in the same SQLite file as the sessions', async () => {
    const client = new Browser(app.url)
    assert.equal((await register(client, 'ada@example.com')).status, 303)
    const db = new DatabaseSync(join(app.dataDir, 'app.db'), { readOnly: true })
    try {
      const tables = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .all()
        .map((r) => String(r.name))
      assert.ok(tables.includes('app_users') && tables.includes('coatcheck_sessions'), String(tables))
      const row = db.prepare('SELECT email, password_hash FROM app_users').get() as {
        email: string
        password_hash: string
      }
      assert.equal(row.email, 'ada@example.com')
      assert.match(row.password_hash, /^\$argon2id\$/)
    } finally {
      db.close()
    }
  })

  it('signs in, answers /api/me and /api/sessions, revokes a session, and signs out', async () => {
    const phone = new Browser(app.url)
    const laptop = new Browser(app.url)
    laptop.headers['user-agent'] = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
    // A client that sends neither Sec-Fetch-Site nor Origin needs the token; a cross-site Origin is refused.
    const login = { email: 'ADA@example.com', password: PASSWORD }
    assert.equal((await phone.post('/api/login', login)).status, 403)
    const evil = await phone.request('/api/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://evil.example', accept: 'application/json' },
      body: JSON.stringify(login),
    })
    assert.equal(evil.status, 403)
    assert.deepEqual(JSON.parse(evil.body).error, 'Forbidden')
    const { csrfToken } = JSON.parse((await phone.get('/api/csrf')).body)
    const signedIn = await phone.request('/api/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken },
      body: JSON.stringify(login),
    })
    assert.equal(signedIn.status, 200)
    assert.equal(JSON.parse(signedIn.body).email, 'ada@example.com')
    // A browser's same-origin fetch passes on Sec-Fetch-Site alone.
    laptop.headers['sec-fetch-site'] = 'same-origin'
    assert.equal((await laptop.post('/api/login', { ...login, password: 'wrong' })).status, 401)
    assert.equal((await laptop.post('/api/login', login)).status, 200)

    const me = await phone.get('/api/me')
    assert.equal(me.status, 200)
    assert.equal(me.headers.get('cache-control'), 'no-store')
    const token = JSON.parse(me.body).csrfToken as string
    const sessions = JSON.parse((await phone.get('/api/sessions')).body) as Array<{ handle: string; label: string }>
    assert.equal(sessions.length, 3) // with the one of the test before
    const laptopHandle = sessions.find((s) => s.label === 'Firefox on Linux')!.handle
    const del = (handle: string) =>
      phone.request(`/api/sessions/${handle}`, { method: 'DELETE', headers: { 'x-csrf-token': token } })
    assert.equal((await del(laptopHandle)).status, 204)
    assert.equal((await del(laptopHandle)).status, 404)
    assert.equal((await laptop.get('/api/me')).status, 401)

    const out = await phone.request('/api/logout', { method: 'POST', headers: { 'x-csrf-token': token } })
    assert.deepEqual([out.status, JSON.parse(out.body)], [200, { ok: true }])
    assert.deepEqual(JSON.parse((await phone.get('/api/me')).body), { error: 'Unauthorized' })
    assert.equal((await phone.get('/api/nothing')).status, 404)
  })
})

describe('the reference app: a form that fails the CSRF check', () => {
  let app: RunningApp
  before(async () => {
    app = await startApp()
  })
  after(() => app?.stop())

  it('gets the app’s own 403 page (csrf onRejected), showing who is signed in, and changes nothing', async () => {
    const client = new Browser(app.url)
    assert.equal((await register(client, 'grace@example.com')).status, 303)
    // A client without Fetch Metadata or Origin, posting a token of another session: csrf() refuses it.
    const other = new Browser(app.url)
    const stale = /name="_csrf" value="([^"]+)"/.exec((await other.get('/login')).body)![1]!
    const refused = await client.request('/logout', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: stale }).toString(),
    })
    assert.equal(refused.status, 403)
    assert.equal(refused.headers.get('cache-control'), 'no-store')
    assert.match(refused.body, /<h1>Request refused<\/h1>/)
    assert.match(refused.body, /Sign out<\/button>/, 'the page knows the visitor is signed in')
    assert.equal((await client.get('/dashboard')).status, 200, 'still signed in: the logout did not happen')
    assert.match(app.output(), /csrf-rejected \(token-invalid\)/)
  })
})

describe('the reference app on PostgreSQL', () => {
  let server: RunningPostgres
  before(async () => {
    server = await startPostgres()
  })
  after(() => server?.stop())

  it('keeps users in an app_users table beside the sessions, across a restart of the app', async () => {
    const env = { STORE_URL: server.connectionString }
    let app = await startApp(env)
    const client = new Browser(app.url)
    assert.equal((await register(client, 'edsger@example.com')).status, 303)
    assert.equal((await client.get('/dashboard')).status, 200)
    await app.stop()

    app = await startApp(env)
    try {
      const again = new Browser(app.url)
      again.jar.set('sid', client.jar.get('sid')!)
      const dashboard = await again.get('/dashboard')
      assert.equal(dashboard.status, 200, 'the session survived the restart')
      assert.match(dashboard.body, /edsger@example\.com/)
      const fresh = new Browser(app.url)
      const login = await postForm(fresh, '/login', '/login', { email: 'edsger@example.com', password: PASSWORD })
      assert.equal(login.headers.get('location'), '/dashboard')
    } finally {
      await app.stop()
    }
    const pool = new pg.Pool({ connectionString: server.connectionString })
    pool.on('error', () => {})
    try {
      const { rows } = await pool.query('SELECT email FROM app_users')
      assert.deepEqual(rows, [{ email: 'edsger@example.com' }])
    } finally {
      await pool.end()
    }
  })
})
