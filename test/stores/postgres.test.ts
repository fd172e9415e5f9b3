import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import pg from 'pg'
import { CoatcheckError } from '../../src/errors.ts'
import {
  migrate,
  type PostgresQueryable,
  type PostgresStoreOptions,
  postgresStore,
} from '../../src/stores/postgres/index.ts'
import { type RunningPostgres, startPostgres } from '../support/postgres.ts'
import { storeConformance } from './conformance/index.ts'
import { plainToken, sortedTokens, token } from './conformance/support.ts'
import { HOUR, record } from './postgres-record.ts'

let server: RunningPostgres
let pool: pg.Pool
let client: pg.Client
before(async () => {
  server = await startPostgres()
  pool = new pg.Pool({ connectionString: server.connectionString, max: 8 })
  client = new pg.Client({ connectionString: server.connectionString })
  await client.connect()
})
after(async () => {
  await client?.end()
  await pool?.end()
  await server?.stop()
})

// Fresh, empty tables for every test: each gets its own prefix.
let tables = 0
const prefix = () => `t${++tables}_`

storeConformance({ name: 'postgres', open: () => postgresStore({ pool, tablePrefix: prefix() }) })

// A lone Client answers pg's submittable queries without a promise, so the store sends it pg's ordinary named
// statements (rows as arrays, values parsed by pg): the same contract through the other path.
storeConformance({
  name: 'postgres, on a lone pg Client',
  open: () => postgresStore({ pool: client, tablePrefix: prefix() }),
})

const isCoded =
  (code: string, ...words: string[]) =>
  (err: unknown) =>
    err instanceof CoatcheckError && err.code === code && words.every((w) => err.message.includes(w))

describe('postgresStore', () => {
  it('rejects bad options, naming the option', async () => {
    const cases: [Partial<PostgresStoreOptions>, string][] = [
      [{ pool: undefined }, 'pool'],
      [{ pool: {} as pg.Pool }, 'pool'],
      [{ tablePrefix: 'Bad-' }, 'tablePrefix'],
      [{ tablePrefix: '1x_' }, 'tablePrefix'],
      [{ tablePrefix: 'x'.repeat(41) }, 'tablePrefix'],
      [{ tablePrefix: 'a"; DROP TABLE x; --' }, 'tablePrefix'],
      [{ schema: 'Public' }, 'schema'],
      [{ schema: '' }, 'schema'],
      [{ createTables: 'yes' as unknown as boolean }, 'createTables'],
      [{ preparedStatements: 1 as unknown as boolean }, 'preparedStatements'],
      [{ pruneInterval: 0 }, 'pruneInterval'],
      [{ pruneInterval: 1.5 }, 'pruneInterval'],
      [{ pruneInterval: 2 ** 31 }, 'pruneInterval'],
      [{ pruneIntreval: 1000 } as Partial<PostgresStoreOptions>, 'pruneIntreval'],
      [{ tablePrefx: 'a_' } as Partial<PostgresStoreOptions>, 'tablePrefx'],
    ]
    for (const [options, name] of cases) {
      await assert.rejects(
        postgresStore({ pool, ...options } as PostgresStoreOptions),
        isCoded('INVALID_OPTION', `\`${name}\``),
        JSON.stringify(options),
      )
    }
    await assert.rejects(
      postgresStore(undefined as unknown as PostgresStoreOptions),
      isCoded('INVALID_OPTION', '`pool`'),
    )
    await assert.rejects(migrate(pool, { tablePrefix: 'Bad' }), isCoded('INVALID_OPTION', '`tablePrefix`'))
    await assert.rejects(migrate(undefined as unknown as pg.Pool), isCoded('INVALID_OPTION', '`pool`'))
    await assert.rejects(
      postgresStore({ pool, pruneIntreval: 1 } as PostgresStoreOptions),
      isCoded('INVALID_OPTION', 'not a known option of postgresStore()', 'did you mean `pruneInterval`?'),
    )
    await assert.rejects(
      migrate(pool, { prefix: 'a_' } as unknown as PostgresStoreOptions),
      isCoded('INVALID_OPTION', '`prefix`', 'migrate()'),
    )
  })

  it('migrate() is idempotent, run again or by several instances at once', async () => {
    const tablePrefix = prefix()
    await Promise.all(Array.from({ length: 4 }, () => migrate(pool, { tablePrefix })))
    await migrate(pool, { tablePrefix })
    const store = await postgresStore({ pool, tablePrefix })
    await store.close()
    const { rows } = await pool.query('SELECT tablename FROM pg_tables WHERE tablename LIKE $1 ORDER BY 1', [
      `${tablePrefix}%`,
    ])
    assert.deepEqual(
      rows.map((r) => r.tablename),
      ['counters', 'sessions', 'tokens'].map((name) => tablePrefix + name),
    )
  })

  it('adds the token columns to tables made by an older version, keeping their tokens', async () => {
    const tablePrefix = prefix()
    const expiresAt = Date.now() + HOUR
    const kept = { userId: 'u1', hash: 'h1', meta: {}, previousHash: null, rotatedAt: null, createdAt: 1, expiresAt }
    await pool.query('CREATE SCHEMA IF NOT EXISTS coatcheck_old')
    for (const schema of [undefined, 'coatcheck_old']) {
      const tokens = `${schema === undefined ? '' : `${schema}.`}${tablePrefix}tokens`
      await pool.query(`CREATE TABLE ${tokens} (id text PRIMARY KEY, user_id text NOT NULL, hash text NOT NULL,
        created_at bigint NOT NULL, expires_at bigint NOT NULL)`)
      await pool.query(`INSERT INTO ${tokens} VALUES ('t-old', 'u1', 'h1', 1, $1)`, [expiresAt])
      await Promise.all(Array.from({ length: 3 }, () => migrate(pool, { tablePrefix, schema })))
      const columns = async () => {
        const { rows } = await pool.query(
          'SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped',
          [tokens],
        )
        return rows.map((r) => r.attname).sort()
      }
      const all = ['created_at', 'expires_at', 'hash', 'id', 'meta', 'previous_hash', 'rotated_at', 'user_id']
      assert.deepEqual(await columns(), all)
      const store = await postgresStore({ pool, tablePrefix, schema, createTables: false })
      try {
        assert.deepEqual(plainToken(await store.tokens.get('t-old')), kept)
        const next = { hash: 'h2', expiresAt, rotatedAt: Date.now(), meta: { ip: '::1' } }
        assert.equal(await store.tokens.rotate('t-old', 'h1', next), true)
        assert.deepEqual(sortedTokens(await store.tokens.listByUser('u1')), [
          { id: 't-old', record: { ...kept, ...next, previousHash: 'h1' } },
        ])
      } finally {
        await store.close()
      }

      await pool.query(`ALTER TABLE ${tokens} DROP COLUMN previous_hash, DROP COLUMN rotated_at`)
      await assert.rejects(
        postgresStore({ pool, tablePrefix, schema, createTables: false }),
        isCoded('STORE_ERROR', `table ${tokens} lacks columns previous_hash, rotated_at`, 'migrate('),
      )
      await (await postgresStore({ pool, tablePrefix, schema })).close()
      assert.deepEqual(await columns(), all)
    }
  })

  it('leaves room on sessions pages for HOT updates, on new and older tables, keeping a fillfactor of their own', async () => {
    const fillfactor = async (table: string) =>
      (await pool.query('SELECT reloptions FROM pg_class WHERE oid = $1::regclass', [table])).rows[0].reloptions
    const fresh = prefix()
    await migrate(pool, { tablePrefix: fresh })
    assert.deepEqual(await fillfactor(`${fresh}sessions`), ['fillfactor=80'])

    const older = prefix()
    await pool.query(`CREATE TABLE ${older}sessions (key text PRIMARY KEY, user_id text, data jsonb NOT NULL,
      meta jsonb NOT NULL, created_at bigint NOT NULL, last_seen_at bigint NOT NULL, expires_at bigint NOT NULL,
      absolute_expires_at bigint NOT NULL)`)
    await Promise.all(Array.from({ length: 3 }, () => migrate(pool, { tablePrefix: older })))
    assert.deepEqual(await fillfactor(`${older}sessions`), ['fillfactor=80'])

    const own = prefix()
    await pool.query(`CREATE TABLE ${own}sessions (key text PRIMARY KEY, user_id text, data jsonb NOT NULL,
      meta jsonb NOT NULL, created_at bigint NOT NULL, last_seen_at bigint NOT NULL, expires_at bigint NOT NULL,
      absolute_expires_at bigint NOT NULL) WITH (fillfactor = 70, autovacuum_enabled = true)`)
    await migrate(pool, { tablePrefix: own })
    assert.deepEqual(await fillfactor(`${own}sessions`), ['fillfactor=70', 'autovacuum_enabled=true'])

    // A write that changes only the data is a HOT update, on pages filled by inserts. One connection, so that it
    // writes its statistics when told to.
    const single = new pg.Pool({ connectionString: server.connectionString, max: 1 })
    const store = await postgresStore({ pool: single, tablePrefix: fresh })
    await pool.query(
      `INSERT INTO ${fresh}sessions SELECT 'f' || g, 'u', '{"a": "1"}', '{}', 1, 1, $1, $1
      FROM generate_series(1, 2000) AS g`,
      [Date.now() + HOUR],
    )
    for (let i = 1; i <= 50; i++)
      assert.equal(await store.update(`f${i * 40}`, { set: { cart: '[1]' }, maxBytes: 100 }), true)
    await single.query('SELECT pg_stat_force_next_flush()')
    const { rows } = await pool.query(
      'SELECT n_tup_upd::int AS updated, n_tup_hot_upd::int AS hot FROM pg_stat_user_tables WHERE relname = $1',
      [`${fresh}sessions`],
    )
    assert.deepEqual(rows, [{ updated: 50, hot: 50 }])
    await store.close()
    await single.end()
  })

  it('puts the tables in `schema`, creating it', async () => {
    const store = await postgresStore({ pool, schema: 'coatcheck_app', tablePrefix: 's_' })
    await store.create('k', record())
    await store.close()
    const { rows } = await pool.query(`SELECT user_id FROM coatcheck_app.s_sessions`)
    assert.deepEqual(rows, [{ user_id: 'u1' }])
    await assert.rejects(pool.query('SELECT 1 FROM s_sessions'), /does not exist/)
  })

  it('with createTables: false, fails at start-up naming the missing tables and the fix', async () => {
    const tablePrefix = prefix()
    await assert.rejects(
      postgresStore({ pool, tablePrefix, createTables: false }),
      isCoded('STORE_ERROR', `${tablePrefix}sessions`, `${tablePrefix}tokens`, `${tablePrefix}counters`, 'migrate('),
    )
    await migrate(pool, { tablePrefix })
    await pool.query(`DROP TABLE ${tablePrefix}tokens`)
    await assert.rejects(postgresStore({ pool, tablePrefix, createTables: false }), (err: Error) => {
      assert.match(err.message, new RegExp(`table ${tablePrefix}tokens missing`))
      assert.doesNotMatch(err.message, /sessions/)
      return true
    })
    await assert.rejects(
      postgresStore({ pool, schema: 'nowhere', tablePrefix, createTables: false }),
      isCoded('STORE_ERROR', `nowhere.${tablePrefix}sessions`),
    )
    await migrate(pool, { tablePrefix })
    const store = await postgresStore({ pool, tablePrefix, createTables: false })
    assert.equal(await store.create('k', record()), true)
    await store.close()
  })

  it('keeps rows inspectable in SQL, with the indexes the queries use', async () => {
    const tablePrefix = prefix()
    const store = await postgresStore({ pool, tablePrefix })
    await store.create('k', record({ data: { cart: '[1,2]', name: '"Ada"' }, meta: { ip: '::1', fresh: true } }))
    const { rows } = await pool.query(
      `SELECT data->>'cart' AS cart, (data->>'cart')::jsonb->>1 AS second, (data->>'name')::jsonb #>> '{}' AS name,
        meta->>'ip' AS ip, meta->'fresh' AS fresh, user_id, expires_at > 0 AS timed FROM ${tablePrefix}sessions`,
    )
    assert.deepEqual(rows, [
      { cart: '[1,2]', second: '2', name: 'Ada', ip: '::1', fresh: true, user_id: 'u1', timed: true },
    ])
    const indexes = await pool.query('SELECT tablename, indexdef FROM pg_indexes WHERE tablename LIKE $1', [
      `${tablePrefix}%`,
    ])
    const on = (table: string, column: string) =>
      indexes.rows.some((r) => r.tablename === tablePrefix + table && r.indexdef.endsWith(`(${column})`))
    assert.ok(on('sessions', 'user_id'), 'sessions.user_id')
    assert.ok(on('sessions', 'expires_at'), 'sessions.expires_at')
    assert.ok(on('tokens', 'user_id'), 'tokens.user_id')
    await store.close()
  })

  it('returns exactly the JSON text it was given, even where jsonb would normalize it', async () => {
    const store = await postgresStore({ pool, tablePrefix: prefix() })
    const data = { obj: '{"b":1, "a":2}', num: '1.0', exp: '1e2', esc: '"\\u00e9\\n"', deep: '[{"z":[]}]' }
    await store.create('k', record({ data }))
    await store.update('k', { set: { more: '{ "x" : 1 }' } })
    assert.deepEqual({ ...(await store.get('k'))?.data }, { ...data, more: '{ "x" : 1 }' })
    await store.close()
  })

  it('prepares each statement once per connection, under a name of its own text', async () => {
    // One connection, so pg_prepared_statements shows everything the stores prepared.
    const single = new pg.Pool({ connectionString: server.connectionString, max: 1 })
    const prepared = async () =>
      (await single.query('SELECT name, statement FROM pg_prepared_statements ORDER BY name')).rows
    const stores = [
      await postgresStore({ pool: single, tablePrefix: 'prep_a_' }),
      await postgresStore({ pool: single, tablePrefix: 'prep_b_' }),
      await postgresStore({ pool: single, tablePrefix: 'prep_a_', schema: 'prep' }),
      await postgresStore({ pool: single, tablePrefix: 'prep_a_' }),
    ]
    for (const [n, store] of stores.entries()) {
      for (let i = 0; i < 2; i++) {
        const key = `k${n}.${i}`
        assert.equal(await store.create(key, record()), true)
        assert.equal(await store.update(key, { set: { n: `${i}` } }), true)
        assert.deepEqual({ ...(await store.get(key))?.data }, { cart: '[1,2]', n: `${i}` })
      }
    }
    const rows = await prepared()
    assert.ok(
      rows.every((r) => /^coatcheck_[a-zA-Z]+_[0-9a-f]{12}$/.test(r.name)),
      JSON.stringify(rows),
    )
    const named = (what: string) => rows.filter((r) => r.name.startsWith(`coatcheck_${what}_`))
    // Three texts (two prefixes, one schema), each prepared once; the fourth store shares the first one's.
    assert.equal(named('get').length, 3)
    assert.equal(named('create').length, 3)
    assert.equal(named('update').length, 3)
    assert.ok(named('get').some((r) => r.statement.includes('"prep"."prep_a_sessions"')))
    for (const store of stores) await store.close()
    await single.end()
  })

  it('with preparedStatements: false, sends text and values only', async () => {
    const single = new pg.Pool({ connectionString: server.connectionString, max: 1 })
    const textOnly = {
      query: (text: string, values?: unknown[]) => {
        assert.equal(typeof text, 'string')
        return single.query(text, values)
      },
    }
    const store = await postgresStore({ pool: textOnly as PostgresQueryable, preparedStatements: false })
    assert.equal(await store.create('k', record({ userId: 'text-only' })), true)
    assert.equal(await store.update('k', { set: { more: '{ "x" : 1 }' }, unset: ['cart'] }), true)
    assert.deepEqual({ ...(await store.get('k'))?.data }, { more: '{ "x" : 1 }' })
    assert.equal((await store.listByUser('text-only')).length, 1)
    assert.equal((await store.counters.hit('c', HOUR)).count, 1)
    assert.deepEqual((await single.query('SELECT name FROM pg_prepared_statements')).rows, [])
    await store.close()
    await single.end()
  })

  it('reads the same records whatever type parsers the app gave its pool', async () => {
    // An app may have pg hand jsonb over unparsed and bigint as BigInt; the store must not depend on either.
    const types = {
      getTypeParser: (oid: number, format?: 'text' | 'binary') => {
        if (oid === pg.types.builtins.JSONB) return (text: string) => text
        if (oid === pg.types.builtins.INT8) return (text: string) => BigInt(text)
        return pg.types.getTypeParser(oid, format)
      },
    }
    const custom = new pg.Pool({ connectionString: server.connectionString, max: 1, types })
    const store = await postgresStore({ pool: custom, tablePrefix: prefix() })
    const data = Object.fromEntries([
      ['__proto__', '"p"'],
      ['constructor', '1'],
      ['cart', '[1, 2]'],
    ])
    const written = record({ data, meta: { ip: '::1', fresh: true, n: 1.5, none: null } })
    await store.create('k', written)
    const read = await store.get('k')
    assert.ok(read)
    assert.equal(Object.getOwnPropertyDescriptor(read.data, '__proto__')?.value, '"p"')
    assert.deepEqual({ ...read, data: { ...read.data }, meta: { ...read.meta } }, written)
    assert.deepEqual(
      (await store.listByUser('u1')).map((e) => e.record.expiresAt),
      [written.expiresAt],
    )
    await store.close()
    await custom.end()
  })

  it('reads and writes a session in one statement, and tells a refused write from a gone row with a second', async () => {
    const sent: string[] = []
    const counted = {
      query: (query: string | { name: string; text: string; values: unknown[] }, values?: unknown[]) => {
        sent.push(typeof query === 'string' ? query : query.name)
        return pool.query(query as string, values)
      },
    }
    const tablePrefix = prefix()
    const store = await postgresStore({ pool: counted as PostgresQueryable, tablePrefix })
    await store.create('k', record())
    const calls = async (run: () => Promise<unknown>) => {
      sent.length = 0
      await run()
      return sent.map((name) => name.replace(/^coatcheck_([a-zA-Z]+)_.*$/, '$1'))
    }
    assert.deepEqual(await calls(() => store.get('k')), ['get'])
    assert.deepEqual(await calls(() => store.update('k', { set: { cart: '[3]' }, maxBytes: 100 })), ['updateBounded'])
    assert.deepEqual(await calls(() => store.update('k', { set: { n: '1' } })), ['update'])
    assert.deepEqual(
      await calls(() => assert.rejects(store.update('k', { set: { big: '"xxxxxxxx"' }, maxBytes: 10 }), /maxBytes/)),
      ['updateBounded', 'updateJudged'],
    )
    assert.deepEqual(await calls(() => store.update('gone', { set: { a: '1' }, maxBytes: 10 })), [
      'updateBounded',
      'updateJudged',
    ])
    assert.deepEqual({ ...(await store.get('k'))?.data }, { cart: '[3]', n: '1' })
    // A value written by hand as JSON rather than as the JSON string of its text still reads as its text.
    await pool.query(`UPDATE ${tablePrefix}sessions SET data = data || '{"raw": [1, {"a": null}]}'`)
    assert.deepEqual({ ...(await store.get('k'))?.data }, { cart: '[3]', n: '1', raw: '[1,{"a":null}]' })
    await store.close()
  })

  it('sends its statements as lean submittable queries on a pg Pool, and ordinary ones where a pool refuses them', async () => {
    const kinds = (target: PostgresQueryable) => {
      const seen: string[] = []
      const spy = {
        query: (query: unknown, values?: unknown[]) => {
          seen.push(typeof (query as { submit?: unknown }).submit === 'function' ? 'submittable' : typeof query)
          return target.query(query as string, values)
        },
      }
      return { spy: spy as PostgresQueryable, seen }
    }
    const direct = kinds(pool)
    const store = await postgresStore({ pool: direct.spy, tablePrefix: prefix() })
    direct.seen.length = 0
    await store.create('k', record())
    assert.equal((await store.get('k'))?.userId, 'u1')
    assert.deepEqual(direct.seen, ['submittable', 'submittable'])
    await store.close()

    // pg's pipeline mode refuses custom query objects: the probe finds out, and every call still works.
    const pipelined = new pg.Pool({
      connectionString: server.connectionString,
      max: 2,
      pipeline: true,
    } as pg.PoolConfig)
    const refused = kinds(pipelined)
    const other = await postgresStore({ pool: refused.spy, tablePrefix: prefix() })
    refused.seen.length = 0
    assert.equal(await other.create('k', record()), true)
    assert.equal(await other.update('k', { set: { n: '2' }, maxBytes: 1000 }), true)
    assert.deepEqual({ ...(await other.get('k'))?.data }, { cart: '[1,2]', n: '2' })
    assert.equal(await other.destroy('k'), true)
    assert.deepEqual([...new Set(refused.seen)], ['object'])
    await other.close()
    await pipelined.end()
  })

  it('sends text[] values quoted, whatever the key holds', async () => {
    const store = await postgresStore({ pool, tablePrefix: prefix() })
    const odd = ['a"b', 'c\\d', 'e,f', '{g}', 'NULL', ' h ', 'ü', '']
    await store.create('k', record({ data: { ...Object.fromEntries(odd.map((key) => [key, '1'])), kept: '2' } }))
    assert.equal(await store.update('k', { unset: odd }), true)
    assert.deepEqual({ ...(await store.get('k'))?.data }, { kept: '2' })
    await store.close()
  })

  it('rejects a failing or timed-out statement and leaves the pool usable', async () => {
    const tablePrefix = prefix()
    const timed = new pg.Pool({ connectionString: server.connectionString, max: 2, query_timeout: 300 })
    const store = await postgresStore({ pool: timed, tablePrefix })
    await store.create('k', record())
    // An error from the server mid-statement (the table is gone), then the same statement once it is back.
    await pool.query(`ALTER TABLE ${tablePrefix}sessions RENAME TO ${tablePrefix}away`)
    await assert.rejects(store.get('k'), /does not exist/)
    await pool.query(`ALTER TABLE ${tablePrefix}away RENAME TO ${tablePrefix}sessions`)
    assert.equal((await store.get('k'))?.userId, 'u1')
    // A statement that waits past pg's query_timeout rejects once; the pool goes on answering.
    const locker = await pool.connect()
    await locker.query(`BEGIN; LOCK TABLE ${tablePrefix}sessions IN ACCESS EXCLUSIVE MODE`)
    await assert.rejects(store.get('k'), /timeout/i)
    await locker.query('ROLLBACK')
    locker.release()
    assert.equal((await store.get('k'))?.userId, 'u1')
    assert.equal(await store.touch('k', Date.now(), Date.now() + HOUR), true)
    await store.close()
    await timed.end()
  })

  it('prunes expired rows on its timer, and a failing prune does not surface', async () => {
    const rejections: unknown[] = []
    const onRejection = (reason: unknown) => rejections.push(reason)
    process.on('unhandledRejection', onRejection)
    const tablePrefix = prefix()
    const store = await postgresStore({ pool, tablePrefix, pruneInterval: 20 })
    const past = Date.now() - 1
    await store.create('old', record({ expiresAt: past }))
    await store.create('live', record())
    await store.tokens.create('t', token({ createdAt: past, expiresAt: past }))
    await store.counters.hit('c', 1)
    const count = async (table: string) =>
      Number((await pool.query(`SELECT count(*) AS n FROM ${tablePrefix}${table}`)).rows[0].n)
    for (let i = 0; i < 100 && (await count('sessions')) > 1; i++) await sleep(20)
    assert.equal(await count('sessions'), 1)
    assert.equal(await count('tokens'), 0)
    assert.equal(await count('counters'), 0)
    assert.notEqual(await store.get('live'), undefined)

    await pool.query(`DROP TABLE ${tablePrefix}sessions`)
    await sleep(100)
    await store.close()
    process.off('unhandledRejection', onRejection)
    assert.deepEqual(rejections, [])
  })

  it('keeps an idle-client error from crashing only when the app does not listen itself', async () => {
    const bare = new pg.Pool({ connectionString: server.connectionString, application_name: 'bare' })
    const heard = new pg.Pool({ connectionString: server.connectionString })
    const own = () => {}
    heard.on('error', own)
    const stores = [
      await postgresStore({ pool: bare, tablePrefix: 'idle_' }),
      await postgresStore({ pool: bare, tablePrefix: 'idle_' }),
      await postgresStore({ pool: heard, tablePrefix: 'idle_' }),
    ]
    assert.equal(bare.listenerCount('error'), 1, 'one listener, however many stores')
    assert.deepEqual(heard.listeners('error'), [own])
    for (const store of stores) await store.close()
    // A real idle-connection death: the server ends the pool's idle backend.
    await bare.query('SELECT 1')
    const { rows } = await pool.query(
      "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'bare'",
    )
    assert.ok(rows.length > 0 && rows.every((r) => r.ok))
    await sleep(50)
    assert.deepEqual((await bare.query('SELECT 2 AS n')).rows, [{ n: 2 }])
    await bare.end()
    await heard.end()
  })

  it('does not keep the process alive once the app ends its pool', async () => {
    const url = (path: string) => JSON.stringify(new URL(path, import.meta.url).href)
    const script = `
      import pg from 'pg'
      import { postgresStore } from ${url('../../src/stores/postgres/index.ts')}
      const pool = new pg.Pool({ connectionString: process.env.PG_URL })
      const store = await postgresStore({ pool, tablePrefix: 'alive_' })
      await store.get('k')
      await pool.end()
      console.log('done')`
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: new URL('../..', import.meta.url),
      env: { ...process.env, PG_URL: server.connectionString },
      timeout: 10_000,
    })
    assert.equal(stdout.trim(), 'done')
  })
})
