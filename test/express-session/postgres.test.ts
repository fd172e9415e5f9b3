import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import connectPgSimple from 'connect-pg-simple'
import real from 'express-session'
import pg from 'pg'
import dropIn from '../../src/express-session/index.ts'
import type { Running } from '../support/http.ts'
import { type RunningPostgres, startPostgres } from '../support/postgres.ts'
import { Client, serve, sessionIdOf } from './support.ts'
import { tutorialApp } from './tutorial.ts'

const LOGIN = { username: 'ada', password: 'correct horse' }

describe('connect-pg-simple (real PostgreSQL) through the drop-in face', () => {
  let postgres: RunningPostgres
  let pool: pg.Pool
  const running: Running[] = []
  /** The store class built the way its README says: from the session module the app imports. */
  const start = async (session: typeof dropIn) => {
    const PgStore = connectPgSimple(session)
    const store = new PgStore({ pool, createTableIfMissing: true, pruneSessionInterval: false })
    const app = await serve(tutorialApp(session, store))
    running.push(app)
    return app
  }

  before(async () => {
    postgres = await startPostgres()
    pool = new pg.Pool({ connectionString: postgres.connectionString })
    // connect-pg-simple runs its CREATE TABLE in the background for every store made; under load one can still be
    // on a connection when the server stops at teardown, and an unheard pool error would crash the test process.
    pool.on('error', () => {})
  })
  after(async () => {
    for (const app of running) await app.close()
    await pool?.end()
    await postgres?.stop()
  })

  it('connect-pg-simple subclasses the drop-in Store; the tutorial runs on it', async () => {
    const browser = new Client((await start(dropIn)).url)
    assert.equal((await browser.post('/login', LOGIN)).status, 302)
    assert.equal((await browser.get('/dashboard')).body, 'Welcome u-ada, view 1')
    const id = sessionIdOf(browser.jar.get('connect.sid')!)
    const { rows } = await pool.query('SELECT sess, expire FROM session WHERE sid = $1', [id])
    assert.equal(rows[0].sess.userId, 'u-ada')
    assert.equal(rows[0].sess.views, 1)
    assert.ok(rows[0].expire.valueOf() > Date.now() + 86_000_000 - 60_000, 'expire column follows cookie.expires')
    assert.equal((await browser.post('/logout')).status, 302)
    assert.equal((await pool.query('SELECT 1 FROM session WHERE sid = $1', [id])).rowCount, 0)
    assert.equal((await browser.get('/dashboard')).status, 401)
  })

  it('sessions move between express-session and the drop-in face in both directions', async () => {
    const browser = new Client((await start(real)).url)
    await browser.post('/login', LOGIN)
    assert.equal((await browser.get('/dashboard')).body, 'Welcome u-ada, view 1')
    browser.moveTo((await start(dropIn)).url)
    assert.equal((await browser.get('/dashboard')).body, 'Welcome u-ada, view 2')
    browser.moveTo((await start(real)).url)
    assert.equal((await browser.get('/dashboard')).body, 'Welcome u-ada, view 3')
  })
})
