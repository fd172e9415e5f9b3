import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'

const run = promisify(execFile)
const node = process.execPath

/** Type-checks a consumer project under test/package/ against dist/; returns the files in its program. */
async function typecheck(project: string): Promise<string[]> {
  try {
    const { stdout } = await run(node, ['node_modules/typescript/bin/tsc', '-p', project, '--listFiles'])
    return stdout.split('\n').filter(Boolean)
  } catch (error) {
    throw new Error(`tsc -p ${project} failed:\n${(error as { stdout?: string }).stdout}`)
  }
}

const modernAugmentation = (file: string) => file.endsWith('/dist/session/types.d.ts')
const typesExpressSession = (file: string) => file.includes('/node_modules/@types/express-session/')

// These run against dist/, which `npm test` builds first (`npm run build`): what a user installs.
describe('the built package', () => {
  it('every subpath export imports as ESM, and the drop-in face also through require()', async () => {
    const esm = `
      import { session, memoryStore, logIn, loginThrottle } from 'coatcheck'
      import { sqliteStore } from 'coatcheck/sqlite'
      import { redisStore } from 'coatcheck/redis'
      import { postgresStore, migrate } from 'coatcheck/postgres'
      import dropIn, { Store, MemoryStore, upgradeSessions } from 'coatcheck/express-session'
      const all = [session, memoryStore, logIn, loginThrottle, sqliteStore, redisStore, postgresStore, migrate, dropIn, Store, MemoryStore, upgradeSessions]
      console.log(all.map((f) => typeof f).join(','))`
    const { stdout } = await run(node, ['--input-type=module', '-e', esm])
    assert.equal(stdout.trim(), Array(12).fill('function').join(','))
    const cjs = `const s = require('coatcheck/express-session'); console.log(typeof s, typeof s.Store, typeof s.MemoryStore)`
    const required = await run(node, ['-e', cjs])
    assert.equal(required.stdout.trim(), 'function function function')
  })

  it('types: SessionData merges by declaration, reserved members are read-only, Express sees req.session', async () => {
    await typecheck('test/package/tsconfig.json')
  })

  it('types, drop-in only: req.session is express-session-like and typed by coatcheck/express-session’s SessionData', async () => {
    const files = await typecheck('test/package/drop-in/tsconfig.json')
    assert.ok(files.some((file) => file.endsWith('/dist/express-session/types.d.ts')))
    assert.deepEqual(files.filter(typesExpressSession), [], 'no @types/express-session in this program')
    assert.deepEqual(files.filter(modernAugmentation), [], 'the drop-in face never brings modern mode’s req.session')
  })

  it('types, drop-in with @types/express-session: its req.session and `declare module` augmentations keep working', async () => {
    const files = await typecheck('test/package/drop-in-with-types/tsconfig.json')
    assert.ok(files.some(typesExpressSession))
    assert.deepEqual(files.filter(modernAugmentation), [])
  })

  it('types, drop-in with @types/express-session: a store typed against its Store (connect-redis) is accepted', async () => {
    await typecheck('test/package/drop-in-with-types/tsconfig.stores.json')
  })

  it('types, migrating (modern session() + upgradeSessions from the drop-in face): req.session is modern mode’s', async () => {
    const files = await typecheck('test/package/migration/tsconfig.json')
    assert.ok(files.some(modernAugmentation))
  })

  it('on a Node without crypto.argon2 (before 24.7), importing coatcheck fails at once naming the version needed', async () => {
    const hide = 'data:text/javascript,import c from "node:crypto"; delete c.argon2'
    const probe = `import('coatcheck').then(() => console.log('loaded'), (e) => console.log(e.message))`
    const { stdout } = await run(node, ['--import', hide, '-e', probe])
    assert.match(
      stdout,
      /coatcheck requires Node\.js ≥ 24\.7\.0 \(for Argon2id in node:crypto\); this is Node\.js 24\./,
    )
  })

  it('internals (SessionContext, ResolvedOptions) stay out of the published types', async () => {
    const { readFile } = await import('node:fs/promises')
    const declarations = await Promise.all(
      ['dist/index.d.ts', 'dist/session/context.d.ts', 'dist/session/options.d.ts'].map((f) => readFile(f, 'utf8')),
    )
    assert.doesNotMatch(declarations.join('\n'), /class SessionContext|interface ResolvedOptions/)
  })

  it('the README quick start compiles under strict and answers as it says, never a 500 on a bad form', async () => {
    await typecheck('test/package/quickstart/tsconfig.json')
    const dir = await mkdtemp(join(tmpdir(), 'coatcheck-quickstart-'))
    const port = await freePort()
    const child = spawn(node, [resolve('test/package/quickstart/app.ts')], {
      cwd: dir,
      env: { ...process.env, PORT: String(port), SESSION_SECRET: 'q'.repeat(40) },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    try {
      await once(child.stdout!, 'data')
      const base = `http://127.0.0.1:${port}`
      const page = await fetch(`${base}/login`)
      const cookie = page.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ')
      const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!
      const post = (body: string) =>
        fetch(`${base}/login`, {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin: base },
          body: `_csrf=${encodeURIComponent(token)}&${body}`,
        })
      assert.equal((await post('email=ada%40example.com')).status, 401, 'no password field')
      assert.equal((await post('email=a%40b.c&email=d%40e.f&password=x')).status, 401, 'the email field twice')
      assert.equal((await post('email=ada%40example.com&password=wrong')).status, 401)
      const bodiless = await fetch(`${base}/login`, {
        method: 'POST',
        headers: { cookie, 'sec-fetch-site': 'same-origin' },
      })
      assert.equal(bodiless.status, 401, 'a same-origin post without a form body')
      const ok = await post('email=ada%40example.com&password=correct+horse+battery&remember=on')
      assert.equal(ok.status, 303)
      assert.equal(ok.headers.get('location'), '/me')
      const jar = ok.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ')
      assert.match(jar, /sid=.*remember=/)
      const me = await fetch(`${base}/me`, { headers: { cookie: jar } })
      assert.equal(await me.text(), 'Signed in as u1, 0 items in your cart')
      const forged = await fetch(`${base}/logout`, {
        method: 'POST',
        headers: { cookie: jar, origin: 'https://evil.example' },
      })
      assert.equal(forged.status, 403, 'csrf() refuses a cross-site post')
    } finally {
      child.kill()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => done(port))
    })
    server.on('error', fail)
  })
}
