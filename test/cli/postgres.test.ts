import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { postgresStore } from '../../src/stores/postgres/index.ts'
import { type RunningPostgres, startPostgres } from '../support/postgres.ts'
import { coatcheck } from './run.ts'
import { cliSuite } from './suite.ts'

let server: RunningPostgres
let pool: pg.Pool
let n = 0
before(async () => {
  server = await startPostgres()
  pool = new pg.Pool({ connectionString: server.connectionString, max: 4 })
})
after(async () => {
  await pool.end()
  await server.stop()
})

cliSuite({
  name: 'postgres',
  prunes: true,
  async fresh() {
    const tablePrefix = `cli${n++}_`
    const store = await postgresStore({ pool, tablePrefix })
    return { args: ['--store', server.connectionString, '--table-prefix', tablePrefix], store }
  },
  async blank() {
    return ['--store', server.connectionString, '--table-prefix', `blank${n++}_`]
  },
})

describe('coatcheck CLI on PostgreSQL: what the server says', () => {
  it('missing tables exit 5 naming them; an unknown database or refused login exits 4', async () => {
    const missing = await coatcheck(['sessions', 'list', '--store', server.connectionString, '--table-prefix', 'none_'])
    assert.equal(missing.code, 5)
    assert.match(missing.stderr, /none_sessions.*missing; run "coatcheck migrate --store <url>"/)
    const url = server.connectionString.replace(/\/postgres$/, '/nosuchdb')
    const noDb = await coatcheck(['stats', '--store', url])
    assert.equal(noDb.code, 4)
    assert.match(noDb.stderr, /^coatcheck: cannot reach postgres:\/\/postgres@127\.0\.0\.1:\d+\/nosuchdb: .*nosuchdb/)
  })

  it('a migration the server refuses (no CREATE on the schema) is a failure, exit 1, not "unreachable"', async () => {
    await pool.query('CREATE ROLE cli_reader LOGIN')
    const url = server.connectionString.replace('postgres@', 'cli_reader@')
    const refused = await coatcheck(['migrate', '--store', url, '--table-prefix', 'denied_'])
    assert.equal(refused.code, 1, refused.stderr)
    assert.match(refused.stderr, /^coatcheck: permission denied for schema public/)
  })
})
