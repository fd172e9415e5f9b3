/**
 * The concurrency matrix of issue 14, on every backend on a real server: memory, SQLite, Redis, Redis Cluster,
 * PostgreSQL and a callback store (express-session's MemoryStore through the legacy adapter; one process, where the
 * adapter's per-key lock gives the same answers; across processes it cannot, as the README says). Every request runs
 * through real HTTP; gated requests have loaded their session before any of them goes on, so they all race on the
 * same snapshot.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import type { CoatcheckStore, SessionStore } from '../../src/stores/types.ts'
import { Browser, type Reply, send } from '../support/http.ts'
import { type App, pausable, recording, startApp, tally } from './app.ts'
import { ALL, type BackendName, type Backends } from './backends.ts'

/** A browser holding only `names` of `from`'s cookies. */
function copy(app: App, from: Browser, names?: string[]): Browser {
  const browser = app.browser()
  for (const [name, value] of from.jar) if (!names || names.includes(name)) browser.jar.set(name, value)
  return browser
}

/** Registers the concurrency matrix on every backend of `backends()` (started by the caller) and the SQLite pair. */
export function concurrencyMatrix(backends: () => Backends): void {
  for (const name of ALL) concurrencyOn(name, backends)
  twoSqliteProcesses()
}

function concurrencyOn(name: BackendName, backends: () => Backends): void {
  describe(`concurrency on ${name}`, () => {
    let app: App
    let store: SessionStore & Partial<CoatcheckStore>
    let recorded: ReturnType<typeof recording>
    let pauses: ReturnType<typeof pausable>
    before(async () => {
      pauses = pausable(await backends().get(name).open())
      recorded = recording(pauses.store)
      store = recorded.store
      app = await startApp(store)
    })
    after(() => app?.close())

    it('50 parallel requests, each setting its own key on one session, leave all 50 keys', async () => {
      const browser = app.browser()
      assert.equal((await browser.post('/set/base')).status, 200)
      const gate = app.gate('keys')
      const replies = Array.from({ length: 50 }, (_, i) => browser.post(`/set/k${i}?gate=keys`, { value: i }))
      await gate.until(50)
      gate.open()
      assert.deepEqual(tally((await Promise.all(replies)).map((r) => r.status)), { 200: 50 })
      const { data } = JSON.parse((await browser.get('/me')).body)
      assert.equal(Object.keys(data).length, 51)
      for (let i = 0; i < 50; i++) assert.equal(data[`k${i}`], i)
    })

    it('50 parallel increments of one key are last-writer-wins, never a torn record', async () => {
      const browser = app.browser()
      assert.equal((await browser.post('/set/base')).status, 200)
      const increments = await Promise.all(Array.from({ length: 50 }, (_, i) => browser.post(`/incr/${i}`)))
      assert.deepEqual(tally(increments.map((r) => r.status)), { 200: 50 })
      const { data } = JSON.parse((await browser.get('/me')).body)
      const answered = increments.map((r) => JSON.parse(r.body).n as number)
      // The stored pair was written by one request in one patch: its value is that request's answer.
      const [writer, n] = data.last as [number, number]
      assert.equal(data.n, n, 'the two keys of one patch are stored together')
      assert.equal(answered[writer], n, 'the stored value is the one its writer answered')
      assert.ok(n >= 1 && n <= 50, `n = ${n}`)
      assert.equal(data.base, true)

      // Gated: every request read the same n, and each patch of two keys lands whole.
      const gate = app.gate('pairs')
      const pairs = Array.from({ length: 50 }, (_, i) => browser.post(`/pair/${i}?gate=pairs`))
      await gate.until(50)
      gate.open()
      assert.deepEqual(tally((await Promise.all(pairs)).map((r) => r.status)), { 200: 50 })
      const after = JSON.parse((await browser.get('/me')).body).data
      assert.deepEqual(after.b, { i: after.a, text: `written by ${after.a}` }, 'a and b come from one writer')
    })

    it('three parallel requests during a regenerate give one new ID, and nobody is wrongly logged out', {}, async () => {
      const userId = `regen-${name}`
      const browser = app.browser()
      assert.equal((await browser.post(`/login/${userId}`)).status, 200)
      const gate = app.gate('regen')
      // The same browser (one cookie jar, updated as each response arrives): a read, a write and a read-only visit
      // that loaded the old ID, then a regenerate that finishes before they do.
      const inFlight = [
        browser.get('/me?gate=regen'),
        browser.post('/set/x?gate=regen'),
        browser.get('/visit?gate=regen'),
      ]
      await gate.until(3)
      const regenerate = await browser.post('/regenerate')
      assert.deepEqual(JSON.parse(regenerate.body), { userId })
      gate.open()
      const replies = await Promise.all(inFlight)
      assert.deepEqual(
        replies.map((r) => r.status),
        [200, 200, 200],
      )
      if (store.listByUser && name !== 'callback') {
        assert.equal((await store.listByUser(userId)).length, 1, 'one new ID, the old one gone')
      }
      assert.equal(JSON.parse((await browser.get('/me')).body).userId, userId, 'the browser is still logged in')
    })

    it('three parallel regenerates of one session leave one new ID, and the browser logged in', {}, async () => {
      const userId = `regen3-${name}`
      const browser = app.browser()
      assert.equal((await browser.post(`/login/${userId}`)).status, 200)
      const gate = app.gate('regen3')
      const replies = Array.from({ length: 3 }, () => browser.post('/regenerate?gate=regen3'))
      await gate.until(3)
      gate.open()
      const statuses = (await Promise.all(replies)).map((r) => r.status)
      assert.deepEqual(statuses, [200, 200, 200])
      if (name !== 'callback') assert.equal((await store.listByUser(userId)).length, 1, 'exactly one new ID')
      assert.equal(JSON.parse((await browser.get('/me')).body).userId, userId, 'the browser is still logged in')
    })

    it('five parallel first visits leave no empty records', async () => {
      const before = recorded.keys.size
      const visits = await Promise.all([
        ...Array.from({ length: 5 }, () => app.browser().get('/visit')),
        ...Array.from({ length: 5 }, () => app.browser().post('/flash')),
      ])
      assert.deepEqual(tally(visits.map((r) => r.status)), { 200: 10 })
      assert.equal(recorded.keys.size, before, 'nothing was created')
      for (const visit of visits) assert.deepEqual(visit.setCookies, [], 'and no cookie was set')

      // Five first requests of one browser that each store something: five records, none of them empty.
      const browser = app.browser()
      await Promise.all(Array.from({ length: 5 }, (_, i) => browser.post('/set/cart', { value: [i] })))
      const created = [...recorded.keys].slice(before)
      assert.equal(created.length, 5)
      for (const key of created) {
        const record = await store.get(key)
        assert.ok(record && Object.keys(record.data).length > 0, 'every stored record holds data')
      }
    })

    for (const everywhere of [false, true]) {
      const title = `a logout${everywhere ? ' everywhere' : ''} racing 20 in-flight writes, regenerates and remember-me restores leaves nothing of the session`
      it(title, async (t) => {
        const complete = name !== 'callback'
        const rounds = 3
        const survivors: string[] = []
        const statuses: number[] = []
        for (let round = 0; round < rounds; round++) {
          const userId = `logout-${everywhere}-${round}-${name}`
          const browser = app.browser()
          const remember = complete ? '?remember=1' : ''
          assert.equal((await browser.post(`/login/${userId}${remember}`)).status, 200)
          const created = recorded.keys.size
          const gate = app.gate(`logout${round}`)
          const at = `gate=logout${round}`
          const requests: Promise<Reply>[] = []
          for (let i = 0; i < 20; i++) {
            const kind = i % 3
            if (kind === 0) requests.push(copy(app, browser).post(`/set/k${i}?${at}`))
            else if (kind === 1) requests.push(copy(app, browser).post(`/regenerate?${at}`))
            // A restore: the same device after a browser restart, its session cookie gone, the remember-me one kept.
            else if (complete) requests.push(copy(app, browser, ['remember']).get(`/me?${at}`))
            else requests.push(copy(app, browser).get(`/me?${at}`))
          }
          const logout = copy(app, browser).post(`/logout?${at}${everywhere ? '&everywhere=1' : ''}`)
          await gate.until(21)
          gate.open()
          statuses.push(...(await Promise.all([...requests, logout])).map((r) => r.status))
          // What is left of the session: any record created since the login (by a regenerate or a restore) that is
          // still live, and anything still listed for the user.
          for (const key of [...recorded.keys].slice(created - 1)) if (await store.get(key)) survivors.push(key)
          if (name !== 'callback') {
            const listed = await store.listByUser(userId)
            survivors.push(...listed.map((e) => `listed:${e.key}`))
            const tokens = store.tokens ? await store.tokens.listByUser(userId) : []
            survivors.push(...tokens.map((t) => `token:${t.id}`))
          }
        }
        const sessionsLeft = survivors.filter((s) => !s.includes(':')).length
        t.diagnostic(
          `${rounds} rounds, ${statuses.length} requests ${JSON.stringify(tally(statuses))}; left: ${sessionsLeft} live sessions, ${survivors.filter((s) => s.startsWith('token:')).length} tokens`,
        )
        assert.deepEqual(Object.keys(tally(statuses)), ['200'], JSON.stringify(tally(statuses)))
        assert.deepEqual(survivors, [], `${survivors.length} live records or tokens after ${rounds} rounds`)
      })
    }

    it('a logout of a session that a concurrent regenerate moved to a new ID ends that login too', {}, async () => {
      const userId = `moved-${name}`
      const browser = app.browser()
      assert.equal((await browser.post(`/login/${userId}`)).status, 200)
      const gate = app.gate('moved')
      // The logout loads the session first; then a regenerate of the same session stores the new ID and deletes the
      // old one, and its answer is held until the logout has answered.
      const logout = browser.post('/logout?gate=moved')
      await gate.until(1)
      const held = pauses.pause('destroy')
      const regenerate = browser.post('/regenerate')
      await held.reached
      gate.open()
      assert.equal((await logout).status, 200)
      held.release()
      assert.equal((await regenerate).status, 200)
      if (name !== 'callback') assert.deepEqual(await store.listByUser(userId), [], 'nothing of the login survives')
      assert.equal(JSON.parse((await browser.get('/me')).body).userId, null, 'the browser is logged out')
    })

    it('a remember-me restore in flight when the device logs out does not log it back in', {
      skip: name === 'callback' && 'a callback store keeps no remember-me tokens',
    }, async () => {
      const userId = `restore-${name}`
      const browser = app.browser()
      assert.equal((await browser.post(`/login/${userId}?remember=1`)).status, 200)
      // The same device after a browser restart (only its remember-me cookie), its restore held at the token's
      // rotation (once its session is stored); meanwhile the device logs out.
      const restorer = copy(app, browser, ['remember'])
      const held = pauses.pause('tokens.rotate')
      const restoring = restorer.get('/me')
      await held.reached
      assert.equal((await browser.post('/logout')).status, 200)
      held.release()
      const restored = await restoring
      assert.equal(restored.status, 200)
      assert.deepEqual(await store.listByUser(userId), [], 'nothing of the login survives')
      assert.deepEqual(await store.tokens!.listByUser(userId), [])
      // The restore's handler may have run logged in (it began before the logout); what it leaves must not be.
      assert.equal(JSON.parse((await restorer.get('/me')).body).userId, null, 'the restored browser is logged out')
    })
  })
}

/** `test/stores/sqlite/server.ts` in its own Node process on `path`: its URL, its store errors, and a stop. */
async function sqliteServer(path: string) {
  const file = fileURLToPath(new URL('../stores/sqlite/server.ts', import.meta.url))
  const child = spawn(process.execPath, [file, path], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines: string[] = []
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
    const parts = out.split('\n')
    out = parts.pop()!
    lines.push(...parts)
  })
  while (lines.length === 0) {
    if (child.exitCode !== null) throw new Error('the SQLite app process exited')
    await sleep(10)
  }
  return {
    url: lines[0]!,
    storeErrors: () => lines.slice(1).filter((line) => line.startsWith('store-error')),
    async stop() {
      const closed = once(child, 'close')
      child.stdin!.end()
      await closed
    },
  }
}

function twoSqliteProcesses(): void {
  describe('two app processes racing on one SQLite file', () => {
    it('no SQLITE_BUSY reaches a user, and no write is lost', { timeout: 60_000 }, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'coatcheck-two-'))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      const path = join(dir, 'sessions.db')
      const servers = await Promise.all([sqliteServer(path), sqliteServer(path)])
      t.after(() => Promise.all(servers.map((s) => s.stop())))
      // 20 browsers, each writing 10 keys to its one session through both processes in turn, all at once.
      const browsers = Array.from({ length: 20 }, () => new Browser(servers[0]!.url))
      const statuses: number[] = []
      await Promise.all(
        browsers.map(async (browser, b) => {
          for (let i = 0; i < 10; i++) {
            const reply = await send(`${servers[i % 2]!.url}/session`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ [`k${i}`]: b }),
              cookie: browser.cookieHeader(),
            })
            statuses.push(reply.status)
            for (const line of reply.setCookies) {
              const pair = line.split(';')[0]!
              browser.jar.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1))
            }
          }
        }),
      )
      t.diagnostic(`statuses: ${JSON.stringify(tally(statuses))}`)
      assert.deepEqual(tally(statuses), { 200: 200 })
      assert.deepEqual([...servers[0]!.storeErrors(), ...servers[1]!.storeErrors()], [])
      for (const [b, browser] of browsers.entries()) {
        const reply = await send(`${servers[1]!.url}/session`, { cookie: browser.cookieHeader() })
        const data = JSON.parse(reply.body)
        assert.deepEqual(data, Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, b])))
      }
    })
  })
}
