import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, describe, it } from 'node:test'
import { sqliteStore } from '../../../src/stores/sqlite/index.ts'
import { statements } from '../../../src/stores/sqlite/sql.ts'
import type { SessionRecord } from '../../../src/stores/types.ts'
import { Browser, listen, send } from '../../support/http.ts'
import { sessionApp } from './app.ts'

// What a read of the SQLite store costs the file and what it may reuse: the plans of the statements, no write on a
// read, the decoded data of an unchanged row, a prune in batches.

const HOUR = 3_600_000
const dirs: string[] = []
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'coatcheck-'))
  dirs.push(dir)
  return join(dir, 'sessions.db')
}

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now()
  const deadlines = { expiresAt: now + HOUR, absoluteExpiresAt: now + 2 * HOUR }
  return { data: { a: '1' }, userId: null, meta: {}, createdAt: now, lastSeenAt: now, ...deadlines, ...overrides }
}

describe('sqliteStore reads', () => {
  it('no statement scans a table: a session is read by one search of its key, at any size', async () => {
    const path = tempFile()
    await sqliteStore({ path }).close()
    const db = new DatabaseSync(path)
    try {
      const plans = Object.entries(statements(db, 'coatcheck_')).map(([name, statement]) => {
        const rows = db.prepare(`EXPLAIN QUERY PLAN ${statement.sourceSQL}`).all()
        return [name, rows.map((row) => String(row.detail))] as const
      })
      for (const [name, plan] of plans) {
        assert.ok(
          plan.every((step) => !step.startsWith('SCAN')),
          `${name}: ${plan.join('; ')}`,
        )
      }
      const read = new Map(plans).get('get')!
      assert.deepEqual(read, ['SEARCH coatcheck_sessions USING INDEX sqlite_autoindex_coatcheck_sessions_1 (key=?)'])
    } finally {
      db.close()
    }
  })

  it('a read writes nothing to the file', async () => {
    const path = tempFile()
    const store = sqliteStore({ path })
    const other = new DatabaseSync(path)
    try {
      await store.create('s1', record({ userId: 'u1', meta: { ip: '127.0.0.1' } }))
      // data_version moves when another connection commits; the WAL grows with every write.
      const version = () => other.prepare('PRAGMA data_version').get()!.data_version
      const before = { version: version(), wal: statSync(`${path}-wal`).size }
      for (let i = 0; i < 100; i++) assert.equal((await store.get('s1'))?.userId, 'u1')
      assert.equal(await store.get('missing'), undefined)
      assert.deepEqual({ version: version(), wal: statSync(`${path}-wal`).size }, before)
    } finally {
      other.close()
      await store.close()
    }
  })

  it('a session changed by another connection reads back changed, field by field, and gone once destroyed', async () => {
    const path = tempFile()
    const reader = sqliteStore({ path })
    const writer = sqliteStore({ path })
    try {
      await writer.create('s1', record({ data: { a: '1', b: '2' }, meta: { ip: '10.0.0.1' } }))
      assert.deepEqual({ ...(await reader.get('s1'))!.data }, { a: '1', b: '2' })
      await writer.update('s1', { set: { a: '3' }, unset: ['b'] })
      assert.deepEqual({ ...(await reader.get('s1'))!.data }, { a: '3' })
      await writer.update('s1', { meta: { ip: '10.0.0.2' } })
      const changed = (await reader.get('s1'))!
      assert.deepEqual(
        { data: { ...changed.data }, meta: { ...changed.meta } },
        { data: { a: '3' }, meta: { ip: '10.0.0.2' } },
      )
      const later = Date.now() + 3 * HOUR
      await writer.touch('s1', Date.now(), later)
      assert.equal((await reader.get('s1'))!.expiresAt, later)
      await writer.destroy('s1')
      assert.equal(await reader.get('s1'), undefined)
      // Recreated under the same key with other data: the new data, not what was read before.
      await writer.create('s1', record({ data: { c: '"new"' } }))
      assert.deepEqual({ ...(await reader.get('s1'))!.data }, { c: '"new"' })
    } finally {
      await reader.close()
      await writer.close()
    }
  })

  it('a record read twice keeps its own data: a key named __proto__ is a key, and the data cannot be changed', async () => {
    const store = sqliteStore({ path: ':memory:' })
    try {
      await store.create('s1', record({ data: JSON.parse('{"__proto__":"1","constructor":"2"}') }))
      const [first, second] = [(await store.get('s1'))!, (await store.get('s1'))!]
      for (const { data } of [first, second]) {
        assert.equal(Object.getPrototypeOf(data), null)
        assert.deepEqual(Object.keys(data), ['__proto__', 'constructor'])
        assert.throws(() => {
          data.a = '1'
        }, TypeError)
      }
      assert.equal(await store.update('s1', { set: { a: '1' } }), true)
      assert.deepEqual(Object.keys((await store.get('s1'))!.data), ['__proto__', 'constructor', 'a'])
    } finally {
      await store.close()
    }
  })

  it('a prune of more rows than one batch deletes them all, letting other work run between batches', async () => {
    const path = tempFile()
    const store = sqliteStore({ path })
    const other = new DatabaseSync(path, { readOnly: true })
    try {
      const past = Date.now() - 1
      for (let i = 0; i < 450; i++) await store.create(`old${i}`, record({ expiresAt: past, userId: `u${i % 3}` }))
      await store.create('live', record())
      const count = () => Number(other.prepare('SELECT count(*) AS n FROM coatcheck_sessions').get()!.n)
      const pruned = store.prune()
      const midway = await new Promise<number>((resolve) => setImmediate(() => resolve(count())))
      assert.ok(midway > 1 && midway < 451, `${midway} rows while the prune ran`)
      assert.equal(await pruned, 450)
      assert.equal(count(), 1)
      assert.equal((await store.get('live'))?.data.a, '1')
    } finally {
      other.close()
      await store.close()
    }
  })

  it('a read that fails answers 503 through the middleware, and the server stays up', async () => {
    const path = tempFile()
    const store = sqliteStore({ path })
    const errors: unknown[] = []
    const running = await listen(sessionApp(store, (event) => event.type === 'store-error' && errors.push(event.error)))
    const other = new DatabaseSync(path)
    try {
      const browser = new Browser(running.url)
      assert.equal((await browser.post('/session', { n: 1 })).status, 200)
      assert.equal((await browser.get('/session')).body, '{"n":1}')
      other.exec('ALTER TABLE coatcheck_sessions RENAME TO moved')
      assert.equal((await browser.get('/session')).status, 503)
      assert.equal((await send(`${running.url}/ping`)).status, 200, 'a request without a session is still served')
      assert.match(String((errors[0] as Error).cause), /no such table/)
      other.exec('ALTER TABLE moved RENAME TO coatcheck_sessions')
      assert.equal((await browser.get('/session')).body, '{"n":1}')
    } finally {
      other.close()
      await running.close()
      await store.close()
    }
  })
})
