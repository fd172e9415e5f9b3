import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CoatcheckStore, SessionEntry, SessionRecord, TokenRecord } from '../../src/stores/types.ts'

/** A backend under test. Durable backends run against real servers, so every test here uses the wall clock. */
export interface ConformanceTarget {
  /** Shown in the test names. */
  name: string
  /** Called before each test: a fresh, empty store. */
  open(): Promise<CoatcheckStore>
  /** Called after each test. Default: `store.close()`. */
  close?(store: CoatcheckStore): Promise<void>
  /**
   * The backend drops expired records by itself (Redis TTLs), so `prune` may find fewer expired sessions than were
   * written. Default false: `prune` must count every one.
   */
  expiresOnItsOwn?: boolean
}

const HOUR = 3_600_000

function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now()
  return {
    data: { cart: '[1,2]', name: '"Ada"' },
    userId: null,
    meta: { ip: '127.0.0.1', fresh: true, logins: 3, device: null },
    createdAt: now - 1000,
    lastSeenAt: now - 500,
    expiresAt: now + HOUR,
    absoluteExpiresAt: now + 7 * 24 * HOUR,
    ...overrides,
  }
}

const expiredSession = (overrides: Partial<SessionRecord> = {}) => session({ expiresAt: Date.now() - 1, ...overrides })

function token(overrides: Partial<TokenRecord> = {}): TokenRecord {
  const now = Date.now()
  return { userId: 'u1', hash: 'hash-1', createdAt: now, expiresAt: now + HOUR, ...overrides }
}

/** Data and meta as plain objects, so records compare equal whatever prototype a backend gives them. */
function plain(record: SessionRecord | undefined): SessionRecord | undefined {
  return record && { ...record, data: { ...record.data }, meta: { ...record.meta } }
}

const sorted = (entries: SessionEntry[]) =>
  entries.map((e) => ({ key: e.key, record: plain(e.record) })).sort((a, b) => (a.key < b.key ? -1 : 1))

/** Registers the store contract's behaviour as `node:test` suites, run against a fresh store per test. */
export function storeConformance(target: ConformanceTarget): void {
  describe(`store conformance: ${target.name}`, () => {
    let store: CoatcheckStore
    beforeEach(async () => {
      store = await target.open()
    })
    afterEach(async () => {
      await (target.close ? target.close(store) : store.close?.())
    })

    describe('sessions', () => {
      it('get of a missing key resolves undefined', async () => {
        assert.equal(await store.get('missing'), undefined)
      })

      it('create then get returns an equal record', async () => {
        const record = session({ userId: 'u1' })
        assert.equal(await store.create('s1', record), true)
        assert.deepEqual(plain(await store.get('s1')), record)
      })

      it('create on a live key resolves false and keeps the original', async () => {
        const original = session({ userId: 'u1' })
        await store.create('s1', original)
        assert.equal(await store.create('s1', session({ data: { other: '1' }, userId: 'u2' })), false)
        assert.deepEqual(plain(await store.get('s1')), original)
        assert.deepEqual(await store.listByUser('u2'), [])
      })

      it('create over an expired record succeeds', async () => {
        await store.create('s1', expiredSession({ userId: 'u1' }))
        assert.equal(await store.get('s1'), undefined)
        const fresh = session({ data: { fresh: 'true' }, userId: 'u2' })
        assert.equal(await store.create('s1', fresh), true)
        assert.deepEqual(plain(await store.get('s1')), fresh)
        assert.deepEqual(await store.listByUser('u1'), [])
      })

      it('destroy removes the record, and a missing key is fine', async () => {
        await store.create('s1', session({ userId: 'u1' }))
        await store.destroy('s1')
        assert.equal(await store.get('s1'), undefined)
        assert.deepEqual(await store.listByUser('u1'), [])
        await store.destroy('s1')
        await store.destroy('never-existed')
      })

      it('a destroyed session cannot be revived by a racing update', async () => {
        await store.create('s1', session())
        const [, updated] = await Promise.all([store.destroy('s1'), store.update('s1', { set: { late: '1' } })])
        assert.equal(typeof updated, 'boolean')
        assert.equal(await store.get('s1'), undefined)
        assert.equal(await store.update('s1', { set: { later: '1' } }), false)
        assert.equal(await store.get('s1'), undefined)
      })
    })

    describe('update', () => {
      it('sets and unsets keys in one patch, leaving the rest', async () => {
        const record = session({ data: { a: '1', b: '2', c: '3' }, userId: 'u1' })
        await store.create('s1', record)
        assert.equal(await store.update('s1', { set: { b: '"two"', d: '4' }, unset: ['c', 'absent'] }), true)
        assert.deepEqual(plain(await store.get('s1')), { ...record, data: { a: '1', b: '"two"', d: '4' } })
      })

      it('replaces meta and moves the deadlines', async () => {
        await store.create('s1', session())
        const now = Date.now()
        const patch = {
          meta: { ip: '::1' },
          lastSeenAt: now,
          expiresAt: now + 2 * HOUR,
          absoluteExpiresAt: now + 3 * HOUR,
        }
        assert.equal(await store.update('s1', patch), true)
        const got = await store.get('s1')
        assert.deepEqual({ ...got?.meta }, { ip: '::1' })
        assert.equal(got?.lastSeenAt, patch.lastSeenAt)
        assert.equal(got?.expiresAt, patch.expiresAt)
        assert.equal(got?.absoluteExpiresAt, patch.absoluteExpiresAt)
        assert.deepEqual({ ...got?.data }, session().data)
      })

      it('moves the session between users, and to none', async () => {
        await store.create('s1', session({ userId: 'u1' }))
        assert.equal(await store.update('s1', { userId: 'u2' }), true)
        assert.deepEqual(await store.listByUser('u1'), [])
        assert.deepEqual(
          (await store.listByUser('u2')).map((e) => e.key),
          ['s1'],
        )
        assert.equal(await store.update('s1', { userId: null }), true)
        assert.deepEqual(await store.listByUser('u2'), [])
        assert.equal((await store.get('s1'))?.userId, null)
        assert.equal(await store.destroyByUser('u2'), 0)
        assert.notEqual(await store.get('s1'), undefined)
      })

      it('resolves false for a missing key and creates nothing', async () => {
        assert.equal(await store.update('s1', { set: { a: '1' }, userId: 'u1', expiresAt: Date.now() + HOUR }), false)
        assert.equal(await store.get('s1'), undefined)
        assert.deepEqual(await store.listByUser('u1'), [])
      })

      it('resolves false for an expired record and does not revive it', async () => {
        await store.create('s1', expiredSession({ userId: 'u1' }))
        assert.equal(await store.update('s1', { set: { a: '1' }, expiresAt: Date.now() + HOUR }), false)
        assert.equal(await store.get('s1'), undefined)
        assert.deepEqual(await store.listByUser('u1'), [])
      })

      it('applies concurrent patches to disjoint keys without losing one', async () => {
        await store.create('s1', session({ data: {} }))
        const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']
        const results = await Promise.all(names.map((n) => store.update('s1', { set: { [n]: `"${n}"` } })))
        assert.deepEqual(
          results,
          names.map(() => true),
        )
        const data = (await store.get('s1'))?.data
        assert.deepEqual({ ...data }, Object.fromEntries(names.map((n) => [n, `"${n}"`])))
      })
    })

    describe('touch', () => {
      it('moves lastSeenAt and expiresAt, leaving data and the absolute deadline', async () => {
        const record = session({ userId: 'u1' })
        await store.create('s1', record)
        const now = Date.now()
        assert.equal(await store.touch('s1', now, now + 2 * HOUR), true)
        assert.deepEqual(plain(await store.get('s1')), { ...record, lastSeenAt: now, expiresAt: now + 2 * HOUR })
      })

      it('resolves false for a missing or expired key', async () => {
        assert.equal(await store.touch('missing', Date.now(), Date.now() + HOUR), false)
        await store.create('s1', expiredSession())
        assert.equal(await store.touch('s1', Date.now(), Date.now() + HOUR), false)
        assert.equal(await store.get('s1'), undefined)
      })
    })

    describe('users', () => {
      async function seed() {
        await store.create('a1', session({ userId: 'alice', data: { n: '1' } }))
        await store.create('a2', session({ userId: 'alice', data: { n: '2' } }))
        await store.create('a3', expiredSession({ userId: 'alice' }))
        await store.create('b1', session({ userId: 'bob' }))
        await store.create('anon', session())
      }

      it('listByUser lists only that user’s live sessions, with their records', async () => {
        await seed()
        const a1 = await store.get('a1')
        const a2 = await store.get('a2')
        assert.deepEqual(sorted(await store.listByUser('alice')), [
          { key: 'a1', record: plain(a1) },
          { key: 'a2', record: plain(a2) },
        ])
        assert.deepEqual(
          (await store.listByUser('bob')).map((e) => e.key),
          ['b1'],
        )
        assert.deepEqual(await store.listByUser('nobody'), [])
      })

      it('destroyByUser removes every session of the user and counts them', async () => {
        await seed()
        assert.equal(await store.destroyByUser('alice'), 2)
        assert.equal(await store.get('a1'), undefined)
        assert.equal(await store.get('a2'), undefined)
        assert.deepEqual(await store.listByUser('alice'), [])
        assert.notEqual(await store.get('b1'), undefined)
        assert.notEqual(await store.get('anon'), undefined)
        assert.equal(await store.destroyByUser('alice'), 0)
        assert.equal(await store.destroyByUser('nobody'), 0)
      })

      it('destroyByUser keeps exceptKey', async () => {
        await seed()
        assert.equal(await store.destroyByUser('alice', 'a2'), 1)
        assert.equal(await store.get('a1'), undefined)
        assert.equal((await store.get('a2'))?.userId, 'alice')
        assert.deepEqual(
          (await store.listByUser('alice')).map((e) => e.key),
          ['a2'],
        )
        assert.deepEqual(
          (await store.listByUser('bob')).map((e) => e.key),
          ['b1'],
        )
      })
    })

    describe('prune', () => {
      it('removes expired sessions only and resolves how many', async () => {
        await store.create('old1', expiredSession({ userId: 'u1' }))
        await store.create('old2', expiredSession())
        await store.create('live1', session({ userId: 'u1' }))
        await store.create('live2', session())
        const removed = await store.prune()
        if (target.expiresOnItsOwn) assert.ok(removed >= 0 && removed <= 2, `removed ${removed}`)
        else assert.equal(removed, 2)
        assert.equal(await store.prune(), 0)
        assert.notEqual(await store.get('live1'), undefined)
        assert.notEqual(await store.get('live2'), undefined)
        assert.equal(await store.get('old1'), undefined)
        assert.deepEqual(
          (await store.listByUser('u1')).map((e) => e.key),
          ['live1'],
        )
      })
    })

    describe('keys', () => {
      it('keeps __proto__ and constructor in data as plain keys', async () => {
        const before = Object.getOwnPropertyNames(Object.prototype).sort()
        const data = JSON.parse('{"__proto__":"{\\"polluted\\":true}","constructor":"\\"c\\"","toString":"1"}')
        await store.create('s1', session({ data }))
        assert.equal(
          await store.update('s1', {
            set: Object.fromEntries([
              ['__proto__', '"p"'],
              ['valueOf', '2'],
            ]),
            unset: ['toString'],
          }),
          true,
        )
        const got = (await store.get('s1'))?.data
        assert.ok(got)
        const proto = Object.getPrototypeOf(got)
        assert.ok(proto === null || proto === Object.prototype, 'data has a plain or null prototype')
        assert.deepEqual(Object.keys(got).sort(), ['__proto__', 'constructor', 'valueOf'])
        assert.equal(Object.getOwnPropertyDescriptor(got, '__proto__')?.value, '"p"')
        assert.equal(got.constructor, '"c"')
        assert.equal(got.valueOf, '2')
        assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), before)
        assert.equal(({} as Record<string, unknown>).polluted, undefined)
      })

      it('accepts keys and user IDs with unusual characters', async () => {
        const opaque = randomBytes(32).toString('base64url')
        assert.equal(opaque.length, 43)
        const keys = ['a:b', 'sess:ключ-🔑', opaque, 'k*?[x] %20\\']
        for (const key of keys) {
          assert.equal(
            await store.create(key, session({ userId: 'user:ü 1*', data: { key: JSON.stringify(key) } })),
            true,
          )
        }
        for (const key of keys) {
          assert.equal((await store.get(key))?.data.key, JSON.stringify(key))
          assert.equal(await store.update(key, { set: { seen: 'true' } }), true)
        }
        assert.deepEqual((await store.listByUser('user:ü 1*')).map((e) => e.key).sort(), [...keys].sort())
        assert.deepEqual(await store.listByUser('user:ü 1'), [])
        assert.equal(await store.destroyByUser('user:ü 1*', opaque), keys.length - 1)
        assert.equal((await store.get(opaque))?.data.seen, 'true')
      })
    })

    describe('tokens', () => {
      it('create, get, and a duplicate create resolves false', async () => {
        const record = token()
        assert.equal(await store.tokens.get('t1'), undefined)
        assert.equal(await store.tokens.create('t1', record), true)
        assert.deepEqual({ ...(await store.tokens.get('t1')) }, record)
        assert.equal(await store.tokens.create('t1', token({ userId: 'u2', hash: 'other' })), false)
        assert.deepEqual({ ...(await store.tokens.get('t1')) }, record)
      })

      it('rotate swaps the hash only when the expected hash matches', async () => {
        const record = token()
        await store.tokens.create('t1', record)
        const next = { hash: 'hash-2', expiresAt: Date.now() + 2 * HOUR }
        assert.equal(await store.tokens.rotate('t1', 'hash-1', next), true)
        assert.deepEqual({ ...(await store.tokens.get('t1')) }, { ...record, ...next })
        assert.equal(await store.tokens.rotate('t1', 'hash-1', { hash: 'hash-3', expiresAt: Date.now() + HOUR }), false)
        assert.deepEqual({ ...(await store.tokens.get('t1')) }, { ...record, ...next })
        assert.equal(await store.tokens.rotate('missing', 'hash-1', next), false)
        assert.equal(await store.tokens.get('missing'), undefined)
      })

      it('lets exactly one of two concurrent rotations win', async () => {
        await store.tokens.create('t1', token())
        const expiresAt = Date.now() + HOUR
        const results = await Promise.all([
          store.tokens.rotate('t1', 'hash-1', { hash: 'left', expiresAt }),
          store.tokens.rotate('t1', 'hash-1', { hash: 'right', expiresAt }),
        ])
        assert.equal(results.filter(Boolean).length, 1)
        assert.equal((await store.tokens.get('t1'))?.hash, results[0] ? 'left' : 'right')
      })

      it('treats an expired token as missing', async () => {
        await store.tokens.create('t1', token({ expiresAt: Date.now() - 1 }))
        assert.equal(await store.tokens.get('t1'), undefined)
        assert.equal(await store.tokens.rotate('t1', 'hash-1', { hash: 'hash-2', expiresAt: Date.now() + HOUR }), false)
        assert.equal(await store.tokens.get('t1'), undefined)
        assert.equal(await store.tokens.create('t1', token({ hash: 'fresh' })), true)
        assert.equal((await store.tokens.get('t1'))?.hash, 'fresh')
      })

      it('destroy removes a token, and a missing one is fine', async () => {
        await store.tokens.create('t1', token())
        await store.tokens.destroy('t1')
        assert.equal(await store.tokens.get('t1'), undefined)
        await store.tokens.destroy('t1')
        assert.equal(await store.tokens.create('t1', token()), true)
      })

      it('destroyByUser removes only that user’s tokens and counts them', async () => {
        await store.tokens.create('a1', token({ userId: 'alice' }))
        await store.tokens.create('a2', token({ userId: 'alice' }))
        await store.tokens.create('b1', token({ userId: 'bob' }))
        assert.equal(await store.tokens.destroyByUser('alice'), 2)
        assert.equal(await store.tokens.get('a1'), undefined)
        assert.equal(await store.tokens.get('a2'), undefined)
        assert.equal((await store.tokens.get('b1'))?.userId, 'bob')
        assert.equal(await store.tokens.destroyByUser('alice'), 0)
      })
    })

    describe('counters', () => {
      const windowMs = 60_000

      it('counts hits within one window, which its first hit opens', async () => {
        const t0 = Date.now()
        const first = await store.counters.hit('ip:1', windowMs)
        const t1 = Date.now()
        assert.equal(first.count, 1)
        assert.ok(first.resetAt >= t0 + windowMs - 5 && first.resetAt <= t1 + windowMs + 5, `resetAt ${first.resetAt}`)
        assert.deepEqual(await store.counters.hit('ip:1', windowMs), { count: 2, resetAt: first.resetAt })
        assert.deepEqual(await store.counters.hit('ip:1', windowMs), { count: 3, resetAt: first.resetAt })
      })

      it('peek reads the current window without counting a hit', async () => {
        assert.equal(await store.counters.peek('ip:1'), undefined)
        const first = await store.counters.hit('ip:1', windowMs)
        assert.deepEqual(await store.counters.peek('ip:1'), { count: 1, resetAt: first.resetAt })
        assert.deepEqual(await store.counters.peek('ip:1'), { count: 1, resetAt: first.resetAt })
        assert.equal((await store.counters.hit('ip:1', windowMs)).count, 2)
        await store.counters.hit('ip:short', 20)
        await sleep(30)
        assert.equal(await store.counters.peek('ip:short'), undefined, 'an ended window is not reported')
      })

      it('reset starts over', async () => {
        await store.counters.hit('ip:1', windowMs)
        await store.counters.hit('ip:1', windowMs)
        await store.counters.reset('ip:1')
        assert.equal((await store.counters.hit('ip:1', windowMs)).count, 1)
        await store.counters.reset('never-hit')
      })

      it('keeps keys apart', async () => {
        await store.counters.hit('ip:1', windowMs)
        await store.counters.hit('ip:1', windowMs)
        assert.equal((await store.counters.hit('ip:2', windowMs)).count, 1)
        assert.equal((await store.counters.hit('ip:1', windowMs)).count, 3)
      })

      it('counts concurrent hits exactly', async () => {
        const states = await Promise.all(Array.from({ length: 6 }, () => store.counters.hit('ip:1', windowMs)))
        assert.deepEqual(
          states.map((s) => s.count).sort((a, b) => a - b),
          [1, 2, 3, 4, 5, 6],
        )
        assert.equal(new Set(states.map((s) => s.resetAt)).size, 1)
      })

      it('opens a new window once the old one has ended', async () => {
        const first = await store.counters.hit('ip:1', 20)
        await store.counters.hit('ip:1', 20)
        await sleep(30)
        const next = await store.counters.hit('ip:1', 20)
        assert.equal(next.count, 1)
        assert.ok(next.resetAt > first.resetAt, 'a new resetAt')
      })
    })
  })
}
