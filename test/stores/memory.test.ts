import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import { CoatcheckError } from '../../src/errors.ts'
import { type MemoryStoreOptions, memoryStore } from '../../src/stores/memory/index.ts'
import type { SessionRecord } from '../../src/stores/types.ts'
import { storeConformance } from './conformance/index.ts'
import { token } from './conformance/support.ts'

storeConformance({ name: 'memory', open: async () => memoryStore() })

/** A clock the test moves by hand. */
function manualClock(start = 1_000) {
  const clock = { t: start, now: () => clock.t }
  return clock
}

function record(expiresAt: number, userId: string | null = null): SessionRecord {
  return { data: { a: '1' }, userId, meta: {}, createdAt: 0, lastSeenAt: 0, expiresAt, absoluteExpiresAt: expiresAt }
}

describe('memoryStore', () => {
  it('rejects bad options, naming the option', () => {
    const cases: [unknown, string][] = [
      [{ maxEntries: 0 }, 'maxEntries'],
      [{ maxEntries: 1.5 }, 'maxEntries'],
      [{ pruneInterval: -1 }, 'pruneInterval'],
      [{ pruneInterval: 2 ** 31 }, 'pruneInterval'],
      [{ sweepInterval: 1000 }, 'sweepInterval'],
      [{ maxEntires: 10 }, 'maxEntires'],
      [{ now: 'x' as unknown as () => number }, 'now'],
      ['fast', 'options'],
    ]
    for (const [options, name] of cases) {
      assert.throws(
        () => memoryStore(options as MemoryStoreOptions),
        (err) => err instanceof CoatcheckError && err.code === 'INVALID_OPTION' && err.message.includes(`\`${name}\``),
        JSON.stringify(options),
      )
    }
  })

  it('names the renamed option and the nearest valid one for a typo', () => {
    const message = (options: unknown) => {
      try {
        memoryStore(options as MemoryStoreOptions)
      } catch (error) {
        return (error as Error).message
      }
    }
    assert.match(message({ sweepInterval: 1000 })!, /`sweepInterval`.*renamed to `pruneInterval`/)
    assert.match(
      message({ pruneIntreval: 1000 })!,
      /`pruneIntreval` is not a known option of memoryStore\(\); did you mean `pruneInterval`\?/,
    )
  })

  it('with only logged-in sessions, evicts the soonest-expiring one, not the oldest, and unindexes it', async () => {
    const store = memoryStore({ maxEntries: 3, now: manualClock().now })
    await store.create('first', record(5_000, 'u0'))
    await store.create('second', record(2_000, 'u1'))
    await store.create('third', record(3_000, 'u0'))
    await store.create('fourth', record(4_000, 'u0'))
    assert.equal(await store.get('second'), undefined)
    for (const key of ['first', 'third', 'fourth']) assert.notEqual(await store.get(key), undefined, key)
    assert.deepEqual(await store.listByUser('u1'), [])
    assert.equal(await store.destroyByUser('u1'), 0)
    // A stale index entry would list the re-created key under its former user.
    await store.create('second', record(9_000, 'u2'))
    assert.deepEqual(await store.listByUser('u1'), [])
    assert.deepEqual(
      (await store.listByUser('u2')).map((e) => e.key),
      ['second'],
    )
    assert.equal(await store.get('third'), undefined)
    assert.deepEqual((await store.listByUser('u0')).map((e) => e.key).sort(), ['first', 'fourth'])
  })

  it('evicts an anonymous session before logged-in ones that expire sooner', async () => {
    const store = memoryStore({ maxEntries: 3, now: manualClock().now })
    await store.create('alice', record(2_000, 'u1'))
    await store.create('bob', record(3_000, 'u2'))
    await store.create('anon', record(9_000))
    await store.create('new', record(9_500))
    assert.equal(await store.get('anon'), undefined)
    for (const key of ['alice', 'bob', 'new']) assert.notEqual(await store.get(key), undefined, key)
  })

  it('evicts the soonest-expiring anonymous session, not the oldest', async () => {
    const store = memoryStore({ maxEntries: 3, now: manualClock().now })
    await store.create('alice', record(2_000, 'u1'))
    await store.create('old', record(9_000))
    await store.create('soon', record(4_000))
    await store.create('new', record(9_500))
    assert.equal(await store.get('soon'), undefined)
    for (const key of ['alice', 'old', 'new']) assert.notEqual(await store.get(key), undefined, key)
  })

  it('keeps logged-in sessions through a flood of anonymous ones', async () => {
    const store = memoryStore({ maxEntries: 3, now: manualClock().now })
    await store.create('alice', record(2_000, 'u1'))
    await store.create('bob', record(3_000, 'u2'))
    for (let i = 0; i < 100; i++) await store.create(`crawler${i}`, record(10_000 + i))
    for (const [user, key] of [
      ['u1', 'alice'],
      ['u2', 'bob'],
    ] as const) {
      assert.deepEqual(
        (await store.listByUser(user)).map((e) => e.key),
        [key],
      )
    }
    assert.notEqual(await store.get('crawler99'), undefined)
    for (let i = 0; i < 99; i++) assert.equal(await store.get(`crawler${i}`), undefined, `crawler${i}`)
  })

  it('keeps the eviction class a session was created in through updates and touches', async () => {
    const store = memoryStore({ maxEntries: 3, now: manualClock().now })
    await store.create('anon', record(9_000))
    await store.create('alice', record(2_000, 'u1'))
    await store.create('bob', record(3_000, 'u2'))
    // Enough writes to rebuild the heaps several times; none of them makes the anonymous session a logged-in one.
    for (let i = 0; i < 100; i++) {
      await store.update('anon', { set: { i: String(i) }, expiresAt: 9_000 + i })
      await store.touch('alice', 1_000, 2_000 + i)
    }
    await store.create('new', record(9_500))
    assert.equal(await store.get('anon'), undefined)
    for (const key of ['alice', 'bob', 'new']) assert.notEqual(await store.get(key), undefined, key)
    await store.destroy('new')
    await store.create('carol', record(9_600, 'u3'))
    await store.create('dave', record(9_700, 'u4'))
    assert.equal(await store.get('alice'), undefined, 'with no anonymous session left, the soonest logged-in one goes')
    assert.deepEqual(await store.listByUser('u1'), [])
    assert.deepEqual(
      (await store.listByUser('u4')).map((e) => e.key),
      ['dave'],
    )
  })

  it('evicts by the current deadline after touches and updates', async () => {
    const store = memoryStore({ maxEntries: 3, now: manualClock().now })
    await store.create('a', record(2_000))
    await store.create('b', record(3_000))
    await store.create('c', record(4_000))
    await store.touch('a', 1_000, 9_000)
    await store.update('b', { expiresAt: 9_500 })
    await store.create('d', record(5_000))
    assert.equal(await store.get('c'), undefined)
    for (const key of ['a', 'b', 'd']) assert.notEqual(await store.get(key), undefined, key)
  })

  for (const userId of [null, 'u1']) {
    it(`still evicts by deadline after many touches (userId ${userId})`, async () => {
      const store = memoryStore({ maxEntries: 4, now: manualClock().now })
      const final = { a: 7_000, b: 8_000, c: 6_000 }
      for (const key of Object.keys(final)) await store.create(key, record(2_000, userId))
      // Never touched: only the rebuilds that the touches cause carry its deadline along.
      await store.create('z', record(5_000, userId))
      for (let i = 0; i < 200; i++) {
        for (const [key, at] of Object.entries(final)) await store.touch(key, 1_000, i === 199 ? at : 10_000 + i)
      }
      await store.create('d', record(9_000, userId))
      assert.equal(await store.get('z'), undefined)
      await store.create('e', record(9_000, userId))
      assert.equal(await store.get('c'), undefined)
      for (const key of ['a', 'b', 'd', 'e']) assert.notEqual(await store.get(key), undefined, key)
    })
  }

  it('drops every expired session before evicting a live one', async () => {
    const clock = manualClock()
    const store = memoryStore({ maxEntries: 3, now: clock.now })
    await store.create('a', record(2_000, 'u1'))
    await store.create('b', record(2_500))
    await store.create('c', record(9_000))
    clock.t = 3_000
    await store.create('d', record(8_000))
    assert.equal(await store.prune(), 0, 'both expired sessions were dropped')
    await store.create('e', record(7_000))
    for (const key of ['c', 'd', 'e']) assert.notEqual(await store.get(key), undefined, key)
  })

  it('matches a naive model over many random operations', async () => {
    let seed = 42
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed / 2 ** 31
    }
    const clock = manualClock()
    const store = memoryStore({ maxEntries: 20, now: clock.now })
    const model = new Map<string, { expiresAt: number; userId: string | null }>()
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`)
    let unique = 0
    // The fraction keeps deadlines distinct, so the session to evict is never a tie.
    const deadline = () => clock.t + 1 + Math.floor(random() * 500) * 1_000 + unique++ / 10_000
    const alive = (key: string) => (model.get(key)?.expiresAt ?? 0) > clock.t
    for (let step = 0; step < 3_000; step++) {
      const key = keys[Math.floor(random() * keys.length)]!
      const userId = random() < 0.5 ? null : `u${Math.floor(random() * 3)}`
      const op = random()
      if (op < 0.35) {
        const expiresAt = deadline()
        const created = await store.create(key, record(expiresAt, userId))
        assert.equal(created, !alive(key))
        if (created) {
          model.delete(key)
          if (model.size >= 20) for (const [k, v] of model) if (v.expiresAt <= clock.t) model.delete(k)
          if (model.size >= 20) {
            // Anonymous sessions first, soonest-expiring first; logged-in ones only when no anonymous one is left.
            const loggedIn = (v: { userId: string | null }) => Number(v.userId !== null)
            const [evicted] = [...model].sort(
              ([, x], [, y]) => loggedIn(x) - loggedIn(y) || x.expiresAt - y.expiresAt,
            )[0]!
            model.delete(evicted)
          }
          model.set(key, { expiresAt, userId })
        }
      } else if (op < 0.6) {
        const expiresAt = deadline()
        assert.equal(await store.touch(key, clock.t, expiresAt), alive(key))
        if (alive(key)) model.get(key)!.expiresAt = expiresAt
      } else if (op < 0.75) {
        const expiresAt = deadline()
        assert.equal(await store.update(key, { set: { step: String(step) }, expiresAt }), alive(key))
        if (alive(key)) model.get(key)!.expiresAt = expiresAt
      } else if (op < 0.85) {
        assert.equal(await store.destroy(key), alive(key))
        model.delete(key)
      } else {
        clock.t += Math.floor(random() * 20_000)
      }
      for (const k of keys) assert.equal((await store.get(k)) !== undefined, alive(k), `step ${step}, key ${k}`)
      for (const u of ['u0', 'u1', 'u2']) {
        const listed = (await store.listByUser(u)).map((e) => e.key).sort()
        const expected = [...model].filter(([k, v]) => v.userId === u && alive(k)).map(([k]) => k)
        assert.deepEqual(listed, expected.sort(), `step ${step}, user ${u}`)
      }
    }
  })

  it('keeps every user’s sessions listed right through creates, destroys, evictions, expiry and revoke-all', async () => {
    // Enough users to grow the user index several times and to delete from the middle of its probe runs.
    let seed = 7
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed / 2 ** 31
    }
    const clock = manualClock()
    const store = memoryStore({ maxEntries: 150, now: clock.now })
    const model = new Map<string, { expiresAt: number; userId: string | null }>()
    const users = Array.from({ length: 120 }, (_, i) => `user-${i}`)
    const alive = (key: string) => (model.get(key)?.expiresAt ?? 0) > clock.t
    const listed = async (u: string) => (await store.listByUser(u)).map((e) => e.key).sort()
    const expected = (u: string) =>
      [...model]
        .filter(([k, v]) => v.userId === u && alive(k))
        .map(([k]) => k)
        .sort()
    for (let step = 0; step < 4_000; step++) {
      const key = `k${Math.floor(random() * 400)}`
      const user = users[Math.floor(random() * users.length)]!
      const op = random()
      if (op < 0.5) {
        const expiresAt = clock.t + 1 + Math.floor(random() * 50_000) + step / 10_000
        if (await store.create(key, record(expiresAt, random() < 0.2 ? null : user))) {
          model.delete(key)
          for (const [k, v] of model) if (v.expiresAt <= clock.t) model.delete(k)
          if (model.size >= 150) {
            const loggedIn = (v: { userId: string | null }) => Number(v.userId !== null)
            const [evicted] = [...model].sort(
              ([, x], [, y]) => loggedIn(x) - loggedIn(y) || x.expiresAt - y.expiresAt,
            )[0]!
            model.delete(evicted)
          }
          model.set(key, { expiresAt, userId: (await store.get(key))!.userId })
        }
      } else if (op < 0.7) {
        assert.equal(await store.destroy(key), alive(key))
        model.delete(key)
      } else if (op < 0.75) {
        const except = random() < 0.5 ? expected(user)[0] : undefined
        assert.equal(await store.destroyByUser(user, except), expected(user).filter((k) => k !== except).length)
        for (const [k, v] of model) if (v.userId === user && k !== except) model.delete(k)
      } else if (op < 0.8) {
        clock.t += Math.floor(random() * 5_000)
      } else {
        assert.deepEqual(await listed(user), expected(user), `step ${step}, ${user}`)
      }
    }
    for (const u of users) assert.deepEqual(await listed(u), expected(u), u)
  })

  it('reads every write back, whatever the keys and texts (NUL, __proto__, empty, many shapes)', async () => {
    const store = memoryStore()
    const later = Date.now() + 60_000
    const cases: Record<string, string>[] = [
      {},
      { a: '' },
      { a: 'x\u0000y', b: '"ok"' },
      Object.fromEntries([
        ['__proto__', '{"p":1}'],
        ['', '0'],
        ['ключ', '"🔑"'],
      ]),
      { ['x'.repeat(2_000)]: '1', y: '2' },
      // Past the store's bound on interned key lists, data is kept another way; it must read back all the same.
      ...Array.from({ length: 1_100 }, (_, i) => ({ [`k${i}`]: String(i), shared: '"s"' })),
    ]
    for (const [i, data] of cases.entries()) {
      await store.create(`s${i}`, { ...record(later), data })
      const got = await store.get(`s${i}`)
      assert.deepEqual({ ...got?.data }, { ...data }, JSON.stringify(data))
      assert.equal(Object.getPrototypeOf(got?.data), null)
      assert.ok(Object.isFrozen(got?.data))
    }
    // A read is served from the decoded records until a write: each kind of write must show in the next read.
    await store.get('s1')
    await store.update('s1', {
      set: { b: '2' },
      unset: ['a'],
      meta: { ip: '::1' },
      lastSeenAt: 5,
      expiresAt: later + 1,
    })
    assert.deepEqual(
      { ...(await store.get('s1')) },
      {
        ...record(later),
        data: (await store.get('s1'))!.data,
        meta: { ip: '::1' },
        lastSeenAt: 5,
        expiresAt: later + 1,
      },
    )
    assert.deepEqual({ ...(await store.get('s1'))!.data }, { b: '2' })
    await store.touch('s1', 6, later + 2)
    assert.deepEqual([(await store.get('s1'))!.lastSeenAt, (await store.get('s1'))!.expiresAt], [6, later + 2])
  })

  it('judges expiry by the injected clock', async () => {
    const clock = manualClock()
    const store = memoryStore({ now: clock.now })
    await store.create('s1', record(2_000, 'u1'))
    await store.create('s2', record(5_000, 'u1'))
    await store.create('s3', record(2_000))
    await store.create('s4', record(1_500))
    await store.tokens.create('t1', token({ hash: 'h', createdAt: 0, expiresAt: 2_000 }))
    assert.equal((await store.counters.hit('c', 1_000)).resetAt, 2_000)
    assert.equal((await store.counters.hit('c', 1_000)).count, 2)
    clock.t = 2_000
    assert.equal(await store.get('s1'), undefined)
    assert.deepEqual(
      (await store.listByUser('u1')).map((e) => e.key),
      ['s2'],
    )
    assert.equal(await store.prune(), 2)
    assert.equal(await store.tokens.get('t1'), undefined)
    assert.deepEqual(await store.counters.hit('c', 1_000), { count: 1, resetAt: 3_000 })
    assert.notEqual(await store.get('s2'), undefined)
  })

  it('prunes on its timer, and close() stops the timer', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] })
    const clock = manualClock()
    const swept = memoryStore({ pruneInterval: 1_000, now: clock.now })
    const closed = memoryStore({ pruneInterval: 1_000, now: clock.now })
    await swept.create('s1', record(2_000))
    await closed.create('s1', record(2_000))
    await closed.close?.()
    clock.t = 3_000
    t.mock.timers.tick(1_000)
    assert.equal(await swept.prune(), 0)
    assert.equal(await closed.prune(), 1)
    await swept.close?.()
  })

  it('does not keep the process alive', async () => {
    const url = new URL('../../src/stores/memory/index.ts', import.meta.url).href
    const script = `
      import { memoryStore } from ${JSON.stringify(url)}
      const store = memoryStore()
      await store.create('k', { data: {}, userId: null, meta: {}, createdAt: 0, lastSeenAt: 0, expiresAt: Date.now() + 1e6, absoluteExpiresAt: Date.now() + 1e6 })
      console.log('done')`
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      timeout: 10_000,
    })
    assert.equal(stdout.trim(), 'done')
  })

  it('holds copies: neither the input nor a returned record reaches the stored one (returned data is frozen)', async () => {
    const store = memoryStore()
    const input = { ...record(Date.now() + 60_000, 'u1'), meta: { ip: '::1' } }
    await store.create('s1', input)
    input.data.a = 'changed'
    input.meta.ip = 'changed'
    const got = await store.get('s1')
    assert.ok(got)
    assert.throws(() => {
      got.data.a = 'mutated'
    }, TypeError)
    assert.throws(() => {
      got.meta.ip = 'mutated'
    }, TypeError)
    got.expiresAt = 0
    const [entry] = await store.listByUser('u1')
    assert.ok(entry)
    assert.throws(() => {
      entry.record.data.a = 'mutated'
    }, TypeError)
    const set = { b: '2' }
    await store.update('s1', { set })
    set.b = 'mutated'
    const again = await store.get('s1')
    assert.deepEqual({ ...again?.data }, { a: '1', b: '2' })
    assert.deepEqual(again?.meta, { ip: '::1' })
    assert.notEqual(again?.expiresAt, 0)

    const tokenInput = token({ hash: 'h', meta: { ip: '::1' } })
    await store.tokens.create('t1', tokenInput)
    tokenInput.meta.ip = 'changed'
    const got2 = await store.tokens.get('t1')
    assert.ok(got2)
    got2.hash = 'mutated'
    assert.throws(() => {
      got2.meta.ip = 'mutated'
    }, TypeError)
    const rotation = { hash: 'h2', expiresAt: Date.now() + 60_000, rotatedAt: Date.now(), meta: { ip: '::2' } }
    assert.equal(await store.tokens.rotate('t1', 'h', rotation), true)
    rotation.meta.ip = 'changed'
    const [listed] = await store.tokens.listByUser('u1')
    assert.ok(listed)
    assert.throws(() => {
      listed.record.meta.ip = 'mutated'
    }, TypeError)
    listed.record.hash = 'mutated'
    assert.equal((await store.tokens.get('t1'))?.hash, 'h2')
    assert.deepEqual({ ...(await store.tokens.get('t1'))?.meta }, { ip: '::2' })
  })
})
