// The PostgreSQL store's wire path (lean submittable queries, wire.ts) and its SessionDecoder, from an adversarial
// review: what broke (fixed, each failing before) and the cases checked and found fine.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep, setImmediate as turn } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import pg from 'pg'
import { type PostgresQueryable, postgresStore } from '../../src/stores/postgres/index.ts'
import { sender } from '../../src/stores/postgres/wire.ts'
import type { SessionRecord } from '../../src/stores/types.ts'
import { type RunningPostgres, startPostgres } from '../support/postgres.ts'
import { HOUR, record } from './postgres-record.ts'

let server: RunningPostgres
let pool: pg.Pool
before(async () => {
  server = await startPostgres()
  pool = new pg.Pool({ connectionString: server.connectionString, max: 8 })
  pool.on('error', () => {})
})
after(async () => {
  await pool?.end()
  await server?.stop()
})

let tables = 0
const prefix = () => `r${++tables}_`

/** Resolves to 'timeout' when `promise` has not settled within `ms`. */
const within = <T>(promise: Promise<T>, ms: number) => Promise.race([promise, sleep(ms).then(() => 'timeout' as const)])

/** A forwarding wrapper that records whether each call got a submittable or an ordinary query. */
function spying(target: PostgresQueryable) {
  const seen: string[] = []
  const spy = {
    query: (query: unknown, values?: unknown[]) => {
      seen.push(typeof (query as { submit?: unknown }).submit === 'function' ? 'submittable' : typeof query)
      return target.query(query as string, values)
    },
  }
  return { spy: spy as PostgresQueryable, seen }
}

const checkedOut = (p: pg.Pool) => p.totalCount - p.idleCount

describe('postgres wire: found in review', () => {
  // pg builds a new Query for every query(config) call, so a wrapper may send the same object again (a retry after a
  // timeout or a failover). A TextQuery is sent once (after a timeout pg leaves the first attempt running, whose late
  // rows would land on it): the retry must fail rather than hang, and its pool client must go back.
  it('a statement a wrapper retries with the same query object settles, and its client goes back to the pool', async () => {
    const tablePrefix = prefix()
    const timed = new pg.Pool({ connectionString: server.connectionString, max: 2, query_timeout: 300 })
    let locker: pg.PoolClient | undefined
    const retrying = {
      async query(query: string, values?: unknown[]) {
        try {
          return await timed.query(query, values)
        } catch (error) {
          if (!/timeout/i.test(String(error))) throw error
          // The cause went away (here: the lock is released); try once more with the same arguments.
          if (locker) {
            await locker.query('ROLLBACK')
            locker.release()
            locker = undefined
          }
          return await timed.query(query, values)
        }
      },
    } as unknown as PostgresQueryable
    const store = await postgresStore({ pool: retrying, tablePrefix })
    await store.create('k', record())
    locker = await pool.connect()
    await locker.query(`BEGIN; LOCK TABLE ${tablePrefix}sessions IN ACCESS EXCLUSIVE MODE`)
    const got = await within(
      store.get('k').catch((error: unknown) => error),
      3_000,
    )
    const stuck = checkedOut(timed)
    await store.close()
    if (locker) {
      await locker.query('ROLLBACK')
      locker.release()
    }
    assert.deepEqual(
      { got: got === 'timeout' ? got : String(got), checkedOut: stuck },
      { got: 'Error: coatcheck: a PostgreSQL query object was sent twice; send a new one per attempt', checkedOut: 0 },
      'the retried get settles, and its pool client goes back',
    )
    assert.equal((await store.get('k'))?.userId, 'u1', 'and the next call runs')
    await timed.end()
  })

  // The same, when the first attempt fails because its backend is terminated (a failover, pg_terminate_backend).
  it('a statement a wrapper retries after its connection was terminated settles', async () => {
    const tablePrefix = prefix()
    const p = new pg.Pool({ connectionString: server.connectionString, max: 2 })
    p.on('error', () => {})
    const retrying = {
      async query(query: string, values?: unknown[]) {
        try {
          return await p.query(query, values)
        } catch {
          return await p.query(query, values)
        }
      },
    } as unknown as PostgresQueryable
    const store = await postgresStore({ pool: retrying, tablePrefix })
    await store.create('k', record())
    const locker = await pool.connect()
    await locker.query(`BEGIN; LOCK TABLE ${tablePrefix}sessions IN ACCESS EXCLUSIVE MODE`)
    const pending = within(
      store.get('k').catch((error: unknown) => error),
      2_000,
    )
    for (let i = 0; i < 100; i++) {
      const { rows } = await pool.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%${tablePrefix}sessions%'`,
      )
      if (rows.length > 0) break
      await sleep(20)
    }
    await locker.query('ROLLBACK')
    locker.release()
    const got = await pending
    const stuck = checkedOut(p)
    await store.close()
    assert.deepEqual(
      { got: got === 'timeout' ? got : String(got), checkedOut: stuck },
      { got: 'Error: coatcheck: a PostgreSQL query object was sent twice; send a new one per attempt', checkedOut: 0 },
    )
    await p.end()
  })

  // A pool busy for a moment at start-up (its clients checked out; with connectionTimeoutMillis the probe is refused)
  // must not keep the store on pg's ordinary statements for good: the probe is sent again on a later call.
  it('a pool busy for a moment at start-up still gets the lean path', async () => {
    const busy = new pg.Pool({ connectionString: server.connectionString, max: 1, connectionTimeoutMillis: 200 })
    let held: Promise<pg.PoolClient> | undefined
    // Right after the migration gives its client back, someone else takes it for half a second.
    busy.once('release', () => {
      held = busy.connect()
      void held.then((client) => setTimeout(() => client.release(), 500))
    })
    const { spy, seen } = spying(busy)
    const started = Date.now()
    const store = await postgresStore({ pool: spy, tablePrefix: prefix() })
    const startMs = Date.now() - started
    await held
    // The first call a second after the failed probe sends it again, beside its own statement.
    await sleep(1_100)
    assert.equal(await store.get('none'), undefined)
    await sleep(100)
    seen.length = 0
    assert.equal(await store.create('k', record()), true)
    assert.equal((await store.get('k'))?.userId, 'u1')
    await store.close()
    await busy.end()
    assert.ok(startMs < 5_000)
    assert.deepEqual(seen, ['submittable', 'submittable'], 'the store went on with ordinary statements for good')
  })

  // destroy() forgets the decoded data of the key; destroyByUser must let go of the deleted sessions' too.
  it("destroyByUser lets go of the deleted sessions' decoded data, as destroy does", async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const store = await postgresStore({ pool, tablePrefix: prefix() })
    await store.create('a', record({ data: { secret: '"a"' } }))
    await store.create('b', record({ data: { secret: '"b"' } }))
    const refs = await (async () => ({
      a: new WeakRef((await store.get('a'))!.data),
      b: new WeakRef((await store.get('b'))!.data),
    }))()
    await store.destroy('a')
    assert.equal(await store.destroyByUser('u1'), 1)
    await turn()
    gc()
    await turn()
    gc()
    assert.equal(refs.a.deref(), undefined, 'destroy kept it (control)')
    const kept = refs.b.deref() !== undefined
    await store.close()
    assert.equal(kept, false, "destroyByUser keeps the deleted session's decoded data")
  })
})

describe('postgres wire: a connection it does not know', () => {
  // A pool whose connections keep no record of parsed statements (another driver behind pg's interface, or a pg
  // that changed it) would be sent Parse on every call, and every call after the first would fail. The probe's
  // submit refuses it, and the store keeps to ordinary queries; the fake only stands in for such a driver.
  it('keeps to ordinary queries when the connection has no parsedStatements', async () => {
    const seen: string[] = []
    const foreign = {
      query(query: unknown, values?: unknown[]) {
        const submittable = query as { submit?: (c: unknown) => Error | null; handleError?: (e: Error) => void }
        if (typeof submittable.submit === 'function') {
          seen.push('submittable')
          const refused = submittable.submit({ stream: {} })
          return refused ? Promise.reject(refused) : new Promise(() => {})
        }
        seen.push('ordinary')
        return pool.query(query as string, values)
      },
    } as unknown as PostgresQueryable
    const store = await postgresStore({ pool: foreign, tablePrefix: prefix() })
    seen.length = 0
    assert.equal(await store.create('k', record()), true)
    assert.equal((await store.get('k'))?.userId, 'u1')
    await sleep(1_100)
    assert.equal((await store.get('k'))?.userId, 'u1')
    assert.deepEqual(seen, ['ordinary', 'ordinary', 'ordinary'], 'refused for good: no second probe')
    await store.close()
  })
})

describe('postgres wire: checked and fine', () => {
  it('an ErrorResponse after DataRows rejects once, releases the client, and the next statement runs', async () => {
    const p = new pg.Pool({ connectionString: server.connectionString, max: 1 })
    const send = await sender(p, true)
    const bad = { name: 'review_div_zero', text: 'SELECT 1 / (3 - g) FROM generate_series(1, 5) g' }
    await assert.rejects(send(bad, []), /division by zero/)
    await assert.rejects(send(bad, []), /division by zero/)
    assert.equal(checkedOut(p), 0)
    const ok = await send({ name: 'review_ok', text: 'SELECT $1::text, NULL::text' }, ['x'])
    assert.deepEqual([ok.rows, ok.rowCount], [[['x', null]], 1])
    await p.end()
  })

  it('a Parse that fails rejects every time, and the same pool goes on', async () => {
    const p = new pg.Pool({ connectionString: server.connectionString, max: 1 })
    const send = await sender(p, true)
    const broken = { name: 'review_broken', text: 'SELEC 1' }
    for (let i = 0; i < 3; i++)
      assert.equal(
        await within(
          send(broken, []).catch(() => 'rejected'),
          2000,
        ),
        'rejected',
      )
    assert.equal(checkedOut(p), 0)
    assert.equal((await send({ name: 'review_ok2', text: 'SELECT 1' }, [])).rows[0]?.[0], '1')
    await p.end()
  })

  it('a backend terminated mid-statement rejects the statement once; the store goes on', async () => {
    const tablePrefix = prefix()
    const p = new pg.Pool({ connectionString: server.connectionString, max: 2 })
    p.on('error', () => {})
    const store = await postgresStore({ pool: p, tablePrefix })
    await store.create('k', record())
    const locker = await pool.connect()
    await locker.query(`BEGIN; LOCK TABLE ${tablePrefix}sessions IN ACCESS EXCLUSIVE MODE`)
    const pending = store.get('k')
    let settled = 0
    pending.then(
      () => settled++,
      () => settled++,
    )
    for (let i = 0; i < 100; i++) {
      const { rows } = await pool.query(
        `SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%${tablePrefix}sessions%'`,
      )
      if (rows.length > 0) break
      await sleep(20)
    }
    await assert.rejects(pending, /terminat/)
    await locker.query('ROLLBACK')
    locker.release()
    await sleep(50)
    assert.equal(settled, 1)
    assert.equal((await store.get('k'))?.userId, 'u1')
    await store.close()
    await p.end()
  })

  it('rows come back in the SELECT lists’ order on the lean and on the ordinary path alike', async () => {
    const tablePrefix = prefix()
    const lean = await postgresStore({ pool, tablePrefix })
    const plain = await postgresStore({ pool, tablePrefix, createTables: false, preparedStatements: false })
    const odd = 'q"u\\o,t{e} ü'
    await lean.create('k', record({ userId: odd, meta: { ip: odd, n: 1, b: true, z: null } }))
    await lean.tokens.create('t', {
      userId: odd,
      hash: 'h',
      meta: { a: odd },
      previousHash: null,
      rotatedAt: null,
      createdAt: 1,
      expiresAt: Date.now() + HOUR,
    })
    for (const store of [lean, plain]) {
      const got = await store.get('k')
      assert.equal(got?.userId, odd)
      assert.deepEqual({ ...got?.meta }, { ip: odd, n: 1, b: true, z: null })
      const listed = await store.listByUser(odd)
      assert.equal(listed[0]?.key, 'k')
      assert.deepEqual(listed[0]?.record, got)
      const token = await store.tokens.get('t')
      assert.deepEqual(
        { ...token, meta: { ...token?.meta } },
        {
          userId: odd,
          hash: 'h',
          meta: { a: odd },
          previousHash: null,
          rotatedAt: null,
          createdAt: 1,
          expiresAt: token?.expiresAt,
        },
      )
      assert.equal((await store.tokens.listByUser(odd))[0]?.id, 't')
    }
    const hit = await lean.counters.hit('c', 10_000)
    assert.deepEqual(await plain.counters.peek('c'), hit)
    assert.equal(await plain.update('k', { unset: ['cart'], set: { n: '1' }, maxBytes: 3 }), true)
    // updateJudged's positional [found, written, after]: refused, with the size the patch would have.
    await assert.rejects(lean.update('k', { set: { big: '"xxxxxxxx"' }, maxBytes: 3 }), /session of 15 bytes/)
    assert.equal(await lean.update('gone', { set: { big: '"x"' }, maxBytes: 3 }), false)
    assert.equal(await lean.destroy('k'), true)
    assert.equal(await plain.destroy('k'), false)
    await lean.close()
    await plain.close()
  })

  it('the decoder reads another writer’s change at once and keeps keys apart', async () => {
    const tablePrefix = prefix()
    const store = await postgresStore({ pool, tablePrefix })
    await store.create('a', record())
    await store.create('b', record())
    const first = (await store.get('a'))!
    assert.equal((await store.get('a'))!.data, first.data, 'reused while the texts are the same')
    await pool.query(`UPDATE ${tablePrefix}sessions SET data = '{"cart": "[9]"}', last_seen_at = 5 WHERE key = 'a'`)
    const changed = (await store.get('a'))!
    assert.deepEqual([{ ...changed.data }, changed.lastSeenAt], [{ cart: '[9]' }, 5])
    assert.deepEqual({ ...(await store.get('b'))!.data }, { cart: '[1,2]' })
    await pool.query(`UPDATE ${tablePrefix}sessions SET meta = '{"ip": "x"}' WHERE key = 'b'`)
    assert.deepEqual({ ...(await store.listByUser('u1')).find((e) => e.key === 'b')!.record.meta }, { ip: 'x' })
    await store.close()
  })

  it('after a server restart the lean store parses its statements again on the new connections', async () => {
    const p = new pg.Pool({ connectionString: server.connectionString, max: 2 })
    p.on('error', () => {})
    const store = await postgresStore({ pool: p, tablePrefix: prefix() })
    await store.create('k', record())
    assert.equal((await store.get('k'))?.userId, 'u1')
    await server.restart()
    await sleep(100)
    let got: SessionRecord | undefined
    for (let i = 0; i < 3 && got === undefined; i++) got = await store.get('k').catch(() => undefined)
    assert.equal(got?.userId, 'u1')
    await store.close()
    await p.end()
  })
})
