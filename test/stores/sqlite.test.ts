import assert from 'node:assert/strict'
import { type ChildProcess, execFile, type SpawnOptions, spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { CoatcheckError } from '../../src/errors.ts'
import { type SqliteStoreOptions, sqliteStore } from '../../src/stores/sqlite/index.ts'
import type { CoatcheckStore, SessionRecord } from '../../src/stores/types.ts'
import { Browser, listen } from '../support/http.ts'
import { storeConformance } from './conformance/index.ts'
import { plainToken, sortedTokens, token } from './conformance/support.ts'
import { sessionApp } from './sqlite/app.ts'

const HOUR = 3_600_000
const dirs: string[] = []
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'coatcheck-'))
  dirs.push(dir)
  return dir
}

const tempFile = () => join(tempDir(), 'sessions.db')

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now()
  const deadlines = { expiresAt: now + HOUR, absoluteExpiresAt: now + 2 * HOUR }
  return { data: { a: '1' }, userId: null, meta: {}, createdAt: now, lastSeenAt: now, ...deadlines, ...overrides }
}

/** Row counts read through a connection of our own, the way another process would see the file. */
function rowCounts(path: string, prefix = 'coatcheck_'): Record<'sessions' | 'tokens' | 'counters', number> {
  const db = new DatabaseSync(path, { readOnly: true })
  try {
    const count = (table: string) => db.prepare(`SELECT count(*) AS n FROM ${prefix}${table}`).get()!.n as number
    return { sessions: count('sessions'), tokens: count('tokens'), counters: count('counters') }
  } finally {
    db.close()
  }
}

/** A script from test/stores/sqlite/ in its own Node process; stdout is collected, stderr passed through. */
function start(script: string, args: string[], options: SpawnOptions = {}) {
  const file = fileURLToPath(new URL(`./sqlite/${script}`, import.meta.url))
  const child: ChildProcess = spawn(process.execPath, [file, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
    ...options,
  })
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
  })
  const closed = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', resolve)
  })
  return {
    child,
    closed,
    /** Resolves the first `count` complete lines of stdout; rejects if the process ends first. */
    lines(count: number): Promise<string[]> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const lines = out.split('\n').slice(0, -1)
          if (lines.length < count) return
          child.stdout!.off('data', check)
          resolve(lines.slice(0, count))
        }
        child.stdout!.on('data', check)
        closed.then((code) => reject(new Error(`${script} ended (${code}) after printing: ${JSON.stringify(out)}`)))
        check()
      })
    },
  }
}

/** Stores a session holding `body` through the real middleware; resolves the cookies of the browser that owns it. */
async function seedSession(path: string, body: Record<string, unknown>): Promise<Map<string, string>> {
  const store = sqliteStore({ path })
  const running = await listen(sessionApp(store))
  const browser = new Browser(running.url)
  assert.equal((await browser.post('/session', body)).status, 200)
  await running.close()
  await store.close()
  return browser.jar
}

function browserAt(url: string, jar: Map<string, string>): Browser {
  const browser = new Browser(url)
  for (const [name, value] of jar) browser.jar.set(name, value)
  return browser
}

const opened = new WeakMap<CoatcheckStore, string>()
storeConformance({
  name: 'sqlite (a fresh file per test)',
  async open() {
    const dir = tempDir()
    const store = sqliteStore({ path: join(dir, 'sessions.db') })
    opened.set(store, dir)
    return store
  },
  async close(store) {
    await store.close?.()
    rmSync(opened.get(store)!, { recursive: true, force: true })
  },
})

storeConformance({ name: 'sqlite (:memory:)', open: async () => sqliteStore({ path: ':memory:' }) })

describe('sqliteStore', () => {
  it('rejects bad options, naming the option', () => {
    const cases: [unknown, string][] = [
      [undefined, 'path'],
      [{}, 'path'],
      [{ path: '' }, 'path'],
      [{ path: 1 }, 'path'],
      [{ path: ':memory:', tablePrefix: '1abc' }, 'tablePrefix'],
      [{ path: ':memory:', tablePrefix: 'a-b' }, 'tablePrefix'],
      [{ path: ':memory:', tablePrefix: 'x; DROP TABLE y; --' }, 'tablePrefix'],
      [{ path: ':memory:', tablePrefix: '' }, 'tablePrefix'],
      [{ path: ':memory:', busyTimeout: -1 }, 'busyTimeout'],
      [{ path: ':memory:', busyTimeout: 1.5 }, 'busyTimeout'],
      [{ path: ':memory:', busyTimeout: 2 ** 31 }, 'busyTimeout'],
      [{ path: ':memory:', pruneInterval: 0 }, 'pruneInterval'],
      [{ path: ':memory:', pruneInterval: 2 ** 31 }, 'pruneInterval'],
      [{ path: ':memory:', pruneInterval: '60000' }, 'pruneInterval'],
      [{ path: ':memory:', maxPageCount: 0 }, 'maxPageCount'],
      [{ path: ':memory:', maxPageCount: 2.5 }, 'maxPageCount'],
      // One identifier rule on every backend: lowercase, as PostgreSQL's.
      [{ path: ':memory:', tablePrefix: 'App_' }, 'tablePrefix'],
      [{ path: ':memory:', tablePrefix: 'x'.repeat(41) }, 'tablePrefix'],
      [{ path: ':memory:', pruneIntreval: 1000 }, 'pruneIntreval'],
      [{ path: ':memory:', sweepInterval: 1000 }, 'sweepInterval'],
      ['sessions.db', 'options'],
    ]
    for (const [options, name] of cases) {
      assert.throws(
        () => sqliteStore(options as SqliteStoreOptions),
        (err) => err instanceof CoatcheckError && err.code === 'INVALID_OPTION' && err.message.includes(`\`${name}\``),
        JSON.stringify(options),
      )
    }
  })

  it('says what it takes and names the nearest option for a typo', () => {
    const message = (options: unknown) => {
      try {
        sqliteStore(options as SqliteStoreOptions)
      } catch (error) {
        return (error as Error).message
      }
    }
    assert.match(message('data/sessions.db')!, /takes `\{ path \}`: sqliteStore\(\{ path: 'data\/sessions\.db' \}\)/)
    assert.match(
      message({ path: ':memory:', pruneIntreval: 1 })!,
      /not a known option of sqliteStore\(\); did you mean `pruneInterval`\?/,
    )
  })

  it('an open error names the path and says whether its folder is writable', { timeout: 30_000 }, async () => {
    const dir = tempDir()
    const isOpenError = (path: string, folder: RegExp) => (err: unknown) =>
      err instanceof CoatcheckError &&
      err.code === 'STORE_ERROR' &&
      err.message.includes(path) &&
      folder.test(err.message)
    // A folder where a file is: it cannot be created.
    writeFileSync(join(dir, 'file'), '')
    const underFile = join(dir, 'file', 'sessions.db')
    assert.throws(() => sqliteStore({ path: underFile }), isOpenError(underFile, /file is not a folder/))
    // A directory where the file should be: the folder is writable, the path is the problem.
    mkdirSync(join(dir, 'taken.db'))
    assert.throws(() => sqliteStore({ path: join(dir, 'taken.db') }), isOpenError(join(dir, 'taken.db'), /is writable/))
    // A folder this process may not write to (as `nobody` when the tests run as root: root ignores the mode bits).
    chmodSync(dir, 0o755)
    const locked = join(dir, 'locked')
    mkdirSync(locked, { mode: 0o555 })
    chmodSync(locked, 0o555)
    const url = new URL('../../src/stores/sqlite/index.ts', import.meta.url).href
    const script = `
      import { sqliteStore } from ${JSON.stringify(url)}
      try { sqliteStore({ path: ${JSON.stringify(join(locked, 'sessions.db'))} }) } catch (error) { console.log(error.code, error.message) }`
    const asRoot = process.getuid?.() === 0
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      timeout: 10_000,
      ...(asRoot && { uid: 65534, gid: 65534 }),
    })
    assert.match(
      stdout,
      /^STORE_ERROR coatcheck: cannot open the SQLite database .*locked\/sessions\.db .*is not writable by this process/,
    )
  })

  it('a failing prune on its timer is reported once as a process warning, and retried', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] })
    const path = tempFile()
    const store = sqliteStore({ path, busyTimeout: 0, pruneInterval: 1_000 })
    const warnings: Error[] = []
    const onWarning = (warning: Error) => warnings.push(warning)
    process.on('warning', onWarning)
    const other = new DatabaseSync(path)
    try {
      await store.create('old', record({ expiresAt: Date.now() - 1 }))
      other.exec('BEGIN IMMEDIATE')
      t.mock.timers.tick(1_000)
      t.mock.timers.tick(1_000)
      other.exec('COMMIT')
      await new Promise((resolve) => setImmediate(resolve))
      assert.deepEqual(
        warnings.map((w) => (w as Error & { code?: string }).code),
        ['COATCHECK_PRUNE_ERROR'],
      )
      assert.match(warnings[0]!.message, /sqliteStore\(\) prune failed \(database is locked\)/)
      assert.equal(rowCounts(path).sessions, 1)
      t.mock.timers.tick(1_000)
      assert.equal(rowCounts(path).sessions, 0, 'the next tick retried')
    } finally {
      process.off('warning', onWarning)
      other.close()
      await store.close()
    }
  })

  it('creates the directory, and keeps sessions, tokens and counters across a reopen', async () => {
    const path = join(tempDir(), 'nested', 'deeper', 'sessions.db')
    const first = sqliteStore({ path })
    const saved = record({ data: { cart: '[1,2]', name: '"Ada é 🔑"' }, userId: 'u1', meta: { ip: '::1', n: 2 } })
    await first.create('s1', saved)
    await first.update('s1', { set: { flash: '"hi"' }, unset: ['cart'] })
    await first.tokens.create('t1', token({ hash: 'h1', createdAt: 1, meta: { ip: '::1' } }))
    const window = await first.counters.hit('ip:1', HOUR)
    await first.close()
    await first.close()

    const second = sqliteStore({ path })
    try {
      assert.deepEqual({ ...(await second.get('s1'))?.data }, { name: '"Ada é 🔑"', flash: '"hi"' })
      assert.deepEqual({ ...(await second.get('s1'))?.meta }, { ip: '::1', n: 2 })
      assert.deepEqual(
        (await second.listByUser('u1')).map((e) => e.key),
        ['s1'],
      )
      assert.equal((await second.tokens.get('t1'))?.hash, 'h1')
      assert.deepEqual(await second.counters.hit('ip:1', HOUR), { count: 2, resetAt: window.resetAt })
    } finally {
      await second.close()
    }
  })

  it('adds the token columns and the prune indexes to a file made by an older version, once, even opened by several processes at once', {
    timeout: 60_000,
  }, async () => {
    const path = tempFile()
    const expiresAt = Date.now() + HOUR
    const old = new DatabaseSync(path)
    old.exec(`
      CREATE TABLE coatcheck_tokens (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL, hash TEXT NOT NULL, created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL);
      CREATE INDEX coatcheck_tokens_user_id ON coatcheck_tokens (user_id);`)
    old.prepare('INSERT INTO coatcheck_tokens VALUES (?, ?, ?, ?, ?)').run('t-old', 'u1', 'h1', 1, expiresAt)
    old.close()
    const openers = ['a', 'b', 'c', 'd'].map((prefix) => start('writer.ts', [path, prefix, '0']))
    await Promise.all(openers.map((o) => o.lines(1)))
    for (const o of openers) o.child.stdin!.write('go\n')
    for (const o of openers) assert.equal(await o.closed, 0)

    const columns = () => {
      const db = new DatabaseSync(path, { readOnly: true })
      try {
        return db
          .prepare('PRAGMA table_info(coatcheck_tokens)')
          .all()
          .map((c) => c.name)
      } finally {
        db.close()
      }
    }
    const all = ['id', 'user_id', 'hash', 'created_at', 'expires_at', 'meta', 'previous_hash', 'rotated_at']
    assert.deepEqual(columns(), all)
    const indexes = (table: string) => {
      const db = new DatabaseSync(path, { readOnly: true })
      try {
        return db
          .prepare(`PRAGMA index_list(${table})`)
          .all()
          .map((i) => i.name)
          .filter((name) => !String(name).startsWith('sqlite_autoindex'))
          .sort()
      } finally {
        db.close()
      }
    }
    assert.deepEqual(indexes('coatcheck_tokens'), ['coatcheck_tokens_expires_at', 'coatcheck_tokens_user_id'])
    assert.deepEqual(indexes('coatcheck_counters'), ['coatcheck_counters_reset_at'])
    const store = sqliteStore({ path })
    try {
      const kept = { userId: 'u1', hash: 'h1', meta: {}, previousHash: null, rotatedAt: null, createdAt: 1, expiresAt }
      assert.deepEqual(plainToken(await store.tokens.get('t-old')), kept)
      const next = { hash: 'h2', expiresAt, rotatedAt: Date.now(), meta: { ip: '::1' } }
      assert.equal(await store.tokens.rotate('t-old', 'h1', next), true)
      assert.deepEqual(sortedTokens(await store.tokens.listByUser('u1')), [
        { id: 't-old', record: { ...kept, ...next, previousHash: 'h1' } },
      ])
    } finally {
      await store.close()
    }
    assert.deepEqual(columns(), all, 'reopening adds nothing')
  })

  it('reads what another process wrote', { timeout: 30_000 }, async () => {
    const path = tempFile()
    const writer = start('writer.ts', [path, 'c', '3'])
    await writer.lines(1)
    writer.child.stdin!.write('go\n')
    // The shared session does not exist here, so only the 3 creates and 3 updates succeed.
    assert.deepEqual(await writer.lines(2), ['ready', '6'])
    assert.equal(await writer.closed, 0)
    const store = sqliteStore({ path })
    try {
      assert.deepEqual({ ...(await store.get('c2'))?.data }, { i: '2', done: 'true' })
      assert.equal((await store.listByUser('c')).length, 3)
    } finally {
      await store.close()
    }
  })

  it('two processes writing the same file at once both succeed, losing nothing', { timeout: 120_000 }, async () => {
    const path = tempFile()
    const count = 300
    const store = sqliteStore({ path })
    await store.create('shared', record({ data: {} }))
    const writers = ['a', 'b'].map((prefix) => start('writer.ts', [path, prefix, String(count)]))
    await Promise.all(writers.map((w) => w.lines(1)))
    for (const w of writers) w.child.stdin!.write('go\n')
    for (const w of writers) {
      assert.deepEqual(await w.lines(2), ['ready', String(3 * count)], 'every create and update succeeded')
      assert.equal(await w.closed, 0)
    }
    try {
      for (const prefix of ['a', 'b']) {
        const entries = await store.listByUser(prefix)
        assert.equal(entries.length, count)
        for (const { key, record } of entries) {
          assert.deepEqual({ ...record.data }, { i: key.slice(1), done: 'true' })
          assert.deepEqual({ ...record.meta }, { writer: prefix })
        }
      }
      // Interleaved read-modify-writes of one row: no patch was lost.
      assert.equal(Object.keys((await store.get('shared'))!.data).length, 2 * count)
      assert.equal((await store.counters.hit('shared', HOUR)).count, 2 * count + 1)
    } finally {
      await store.close()
    }
  })

  it('a lock held past busyTimeout rejects writes while reads go on, and clears when released', async () => {
    const path = tempFile()
    const store = sqliteStore({ path, busyTimeout: 50 })
    await store.create('s0', record())
    const other = new DatabaseSync(path)
    other.exec('BEGIN IMMEDIATE')
    try {
      await assert.rejects(store.create('s1', record()), /locked/)
      await assert.rejects(store.update('s0', { set: { b: '2' } }), /locked/)
      await assert.rejects(store.counters.hit('c', HOUR), /locked/)
      assert.deepEqual({ ...(await store.get('s0'))?.data }, { a: '1' }, 'WAL readers do not wait for the writer')
    } finally {
      other.exec('COMMIT')
      other.close()
    }
    assert.equal(await store.create('s1', record()), true)
    assert.equal(await store.update('s0', { set: { b: '2' } }), true)
    await store.close()
  })

  it('a read-only file: sessions are still read, writes answer 503, the server stays up', {
    timeout: 30_000,
  }, async () => {
    const dir = tempDir()
    const path = join(dir, 'sessions.db')
    const jar = await seedSession(path, { a: 1 })
    // Only the file is read-only: SQLite then opens it read-only by itself and still creates its -wal/-shm beside
    // it. (With the directory read-only as well and no -shm left behind, SQLite cannot read a WAL file at all.)
    chmodSync(path, 0o444)
    chmodSync(dir, 0o777)
    // Root ignores permission bits, so as root the app runs in a child process as `nobody`, for which the kernel
    // really refuses to open the file for writing; no store option or pragma stands in for the real thing.
    const asRoot = process.getuid?.() === 0
    const server = start('server.ts', [path], asRoot ? { uid: 65534, gid: 65534 } : {})
    try {
      const [url] = await server.lines(1)
      const browser = browserAt(url!, jar)
      const read = await browser.get('/session')
      assert.equal(read.status, 200)
      assert.deepEqual(JSON.parse(read.body), { a: 1 })
      const write = await browser.post('/session', { a: 2 })
      assert.equal(write.status, 503)
      assert.deepEqual(write.setCookies, [])
      assert.equal((await browserAt(url!, new Map()).post('/session', { b: 1 })).status, 503, 'a new session too')
      assert.deepEqual(JSON.parse((await browser.get('/session')).body), { a: 1 })
      assert.equal((await browser.get('/ping')).body, 'pong')
      const [, ...failures] = await server.lines(3)
      for (const failure of failures) assert.match(failure, /^store-error: attempt to write a readonly database$/)
    } finally {
      server.child.stdin!.end()
      assert.equal(await server.closed, 0)
    }
    chmodSync(path, 0o644)
    const store = sqliteStore({ path })
    assert.equal(rowCounts(path).sessions, 1)
    await store.close()
  })

  it('a full database (maxPageCount): sessions are still read, writes answer 503, the server stays up', async () => {
    const path = tempFile()
    const jar = await seedSession(path, { a: 1 })
    const db = new DatabaseSync(path, { readOnly: true })
    const pages = db.prepare('PRAGMA page_count').get()!.page_count as number
    db.close()
    const store = sqliteStore({ path, maxPageCount: pages })
    const failures: unknown[] = []
    const running = await listen(sessionApp(store, (e) => e.type === 'store-error' && failures.push(e.error)))
    try {
      const browser = browserAt(running.url, jar)
      assert.deepEqual(JSON.parse((await browser.get('/session')).body), { a: 1 })
      const write = await browser.post('/session', { big: 'x'.repeat(50_000) })
      assert.equal(write.status, 503)
      assert.deepEqual(write.setCookies, [])
      assert.equal(failures.length, 1)
      assert.match(String((failures[0] as Error).cause), /database or disk is full/)
      const big = record({ data: { big: JSON.stringify('y'.repeat(50_000)) } })
      await assert.rejects(store.create('direct', big), /full/)
      const read = await browser.get('/session')
      assert.equal(read.status, 200)
      assert.deepEqual(JSON.parse(read.body), { a: 1 }, 'the failed write left the session as it was')
      assert.equal((await browser.get('/ping')).body, 'pong')
    } finally {
      await running.close()
      await store.close()
    }
  })

  it('prune deletes expired sessions, tokens and counters, also on its timer', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] })
    const path = tempFile()
    const store = sqliteStore({ path, pruneInterval: 1_000 })
    const past = Date.now() - 1
    async function seed() {
      await store.create('old1', record({ expiresAt: past, userId: 'u1' }))
      await store.create('old2', record({ expiresAt: past }))
      await store.tokens.create('t-old', token({ createdAt: 0, expiresAt: past }))
      await store.counters.hit('c-old', 1)
    }
    await store.create('live', record())
    await store.tokens.create('t-live', token({ createdAt: 0 }))
    await store.counters.hit('c-live', HOUR)
    await seed()
    await sleep(5)
    assert.deepEqual(rowCounts(path), { sessions: 3, tokens: 2, counters: 2 })
    t.mock.timers.tick(1_000)
    assert.deepEqual(rowCounts(path), { sessions: 1, tokens: 1, counters: 1 })

    await seed()
    await sleep(5)
    assert.equal(await store.prune(), 2)
    assert.deepEqual(rowCounts(path), { sessions: 1, tokens: 1, counters: 1 })
    await store.close()
    t.mock.timers.tick(1_000) // a closed store's timer is gone: nothing touches the closed database
  })

  it('does not keep the process alive', async () => {
    const url = new URL('../../src/stores/sqlite/index.ts', import.meta.url).href
    const path = tempFile()
    const script = `
      import { sqliteStore } from ${JSON.stringify(url)}
      const store = sqliteStore({ path: ${JSON.stringify(path)} })
      await store.counters.hit('k', 60000)
      console.log('done')`
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      timeout: 10_000,
    })
    assert.equal(stdout.trim(), 'done')
    assert.ok(existsSync(path))
  })

  it('keeps stores with different table prefixes in one file apart', async () => {
    const path = tempFile()
    const left = sqliteStore({ path })
    const right = sqliteStore({ path, tablePrefix: 'app_sessions_' })
    try {
      await left.create('s1', record({ data: { side: '"left"' } }))
      assert.equal(await right.get('s1'), undefined)
      assert.equal(await right.create('s1', record({ data: { side: '"right"' } })), true)
      assert.equal((await left.get('s1'))?.data.side, '"left"')
      assert.deepEqual(rowCounts(path, 'app_sessions_'), { sessions: 1, tokens: 0, counters: 0 })
    } finally {
      await left.close()
      await right.close()
    }
  })

  it('rejects every call once closed', async () => {
    const store = sqliteStore({ path: tempFile() })
    await store.close()
    await assert.rejects(store.get('s1'))
    await assert.rejects(store.create('s1', record()))
  })
})
