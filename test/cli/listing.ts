/** `coatcheck sessions list` on one backend: what a row shows, --json, --user, and streaming. */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { shortId } from '../../src/core/token.ts'
import { CHROME_LINUX, coatcheck, FIREFOX_MAC, HOUR, jsonLines, seed, seedMany, spawnCoatcheck } from './run.ts'
import type { Backend, Namespace } from './suite.ts'

export function listingTests(backend: Backend, fresh: () => Promise<Namespace>): void {
  it('sessions list: handle, user, device, IP and times of live sessions; never a key, token or data', async () => {
    const { args, store } = await fresh()
    const ada = await seed(store, { userId: 'ada', ua: FIREFOX_MAC, ip: '198.51.100.1' })
    const anon = await seed(store, { ua: CHROME_LINUX, ip: '203.0.113.9' })
    await seed(store, { userId: 'ada', ttl: -60_000 })
    const { code, stdout, stderr } = await coatcheck(['sessions', 'list', ...args])
    assert.equal(code, 0, stderr)
    const [header, ...rows] = stdout.trimEnd().split('\n')
    assert.match(header!, /^HANDLE\s+USER\s+DEVICE\s+IP\s+CREATED\s+LAST SEEN\s+EXPIRES$/)
    assert.equal(rows.length, 2, 'the expired session is not listed')
    const adaRow = rows.find((row) => row.startsWith(shortId(ada)))!
    assert.match(adaRow, /^\w{12} {2}ada\s+Firefox on macOS\s+198\.51\.100\.1\s+\d{4}-\d\d-\d\d \d\d:\d\dZ/)
    assert.match(rows.find((row) => row.startsWith(shortId(anon)))!, / {2}- {2}.*Chrome on Linux\s+203\.0\.113\.9/)
    for (const secret of [ada, anon, 'secret-cart-item']) assert.ok(!stdout.includes(secret), `no ${secret}`)
  })

  it('sessions list --json: one object per line; --user lists one user, most recently seen first', async () => {
    const { args, store } = await fresh()
    const old = await seed(store, { userId: 'ada', idle: 2 * HOUR, meta: { rememberId: 'r1' } })
    const recent = await seed(store, { userId: 'ada', ua: FIREFOX_MAC })
    await seed(store, { userId: 'bob' })
    await seed(store)
    const all = await coatcheck(['sessions', 'list', ...args, '--json'])
    assert.equal(all.code, 0, all.stderr)
    assert.equal(jsonLines(all.stdout).length, 4)
    const mine = await coatcheck(['sessions', 'list', '--user', 'ada', '--json', ...args])
    const rows = jsonLines(mine.stdout)
    assert.deepEqual(
      rows.map((r) => r.handle),
      [shortId(recent), shortId(old)],
    )
    assert.deepEqual(Object.keys(rows[0]!).sort(), [
      'absoluteExpiresAt',
      'createdAt',
      'device',
      'expiresAt',
      'handle',
      'ip',
      'lastSeenAt',
      'remembered',
      'userAgent',
      'userId',
    ])
    assert.equal(rows[0]!.device, 'Firefox on macOS')
    assert.equal(rows[0]!.userAgent, FIREFOX_MAC)
    assert.equal(rows[1]!.remembered, true)
    assert.ok(Date.parse(rows[0]!.expiresAt as string) > Date.now())
    assert.ok(!mine.stdout.includes(old) && !mine.stdout.includes('secret-cart-item'))
  })

  it('sessions list on an empty store says so; --store may come from STORE_URL', async () => {
    const { args } = await fresh()
    const [, url, ...rest] = args
    const { code, stdout } = await coatcheck(['sessions', 'list', ...rest], { STORE_URL: url! })
    assert.equal(code, 0)
    assert.match(stdout, /\(no live sessions\)/)
    assert.equal((await coatcheck(['sessions', 'list', '--json', ...args])).stdout, '')
  })

  it('sessions list streams: rows come out while pages are read, and a stalled reader stalls the reads', async (t) => {
    const { args, store } = await fresh()
    const total = 4000
    await seedMany(store, total)
    const child = spawnCoatcheck(['sessions', 'list', ...args, '--json', '--page-size', '100', '--verbose'])
    t.after(() => child.kill())
    let stderr = ''
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    const pagesRead = () => (stderr.match(/^page \d+/gm) ?? []).length
    let stdout = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    // Take the first output, then stop reading: the pipe fills up, and a CLI that streams waits for it.
    await new Promise((resolve) => child.stdout.once('data', resolve))
    child.stdout.pause()
    // Let the CLI run until it is blocked on the full pipe.
    for (let seen = -1; seen !== pagesRead(); ) {
      seen = pagesRead()
      await sleep(400)
    }
    const stalled = pagesRead()
    assert.ok(stalled < 20, `read ${stalled} of about 40 pages while nobody read its output`)
    assert.ok(!/^done/m.test(stderr), 'not finished while the reader is stalled')
    child.stdout.resume()
    const [code] = await once(child, 'close')
    assert.equal(code, 0, stderr)
    const handles = new Set(jsonLines(stdout).map((row) => row.handle))
    assert.equal(handles.size, total)
    if (backend.prunes) assert.match(stderr, /^done: 40 pages, 4000 sessions$/m)
    else assert.ok(pagesRead() >= 20, `${pagesRead()} SCAN pages`)
  })

  it('sessions list | head: a reader that goes away ends the listing quietly', async (t) => {
    const { args, store } = await fresh()
    await seedMany(store, 1500)
    const child = spawnCoatcheck(['sessions', 'list', ...args, '--page-size', '50'])
    t.after(() => child.kill())
    let stderr = ''
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    child.stdout.once('data', () => child.stdout.destroy())
    const [code] = await once(child, 'close')
    assert.equal(code, 0)
    assert.equal(stderr, '')
  })
}
