import { after, before } from 'node:test'
import pg from 'pg'
import { postgresStore } from '../../src/stores/postgres/index.ts'
import { type RunningPostgres, startPostgres } from '../support/postgres.ts'
import { authSuite } from './suite.ts'

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

authSuite('postgres', () => postgresStore({ pool, tablePrefix: `auth${n++}_` }))
