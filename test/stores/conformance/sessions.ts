import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { SessionStore } from '../../../src/stores/types.ts'
import { dataCases } from './data.ts'
import { type ConformanceTarget, expiredSession, HOUR, perTest, plain, session, sorted } from './support.ts'

/** The sessions contract alone, for a target that implements only that (the legacy adapter over a callback store). */
export function sessionConformance(target: ConformanceTarget): void {
  describe(`session store conformance: ${target.name}`, () => {
    sessionCases(perTest(target), target)
  })
}

/** Registers the sessions contract's cases against the store `current()` returns. */
export function sessionCases(current: () => SessionStore, target: Pick<ConformanceTarget, 'expiresOnItsOwn'>): void {
  describe('sessions', () => {
    it('get of a missing key resolves undefined', async () => {
      assert.equal(await current().get('missing'), undefined)
    })

    it('create then get returns an equal record', async () => {
      const record = session({ userId: 'u1' })
      assert.equal(await current().create('s1', record), true)
      assert.deepEqual(plain(await current().get('s1')), record)
    })

    it('create on a live key resolves false and keeps the original', async () => {
      const store = current()
      const original = session({ userId: 'u1' })
      await store.create('s1', original)
      assert.equal(await store.create('s1', session({ data: { other: '1' }, userId: 'u2' })), false)
      assert.deepEqual(plain(await store.get('s1')), original)
      assert.deepEqual(await store.listByUser('u2'), [])
    })

    it('create over an expired record succeeds', async () => {
      const store = current()
      await store.create('s1', expiredSession({ userId: 'u1' }))
      assert.equal(await store.get('s1'), undefined)
      const fresh = session({ data: { fresh: 'true' }, userId: 'u2' })
      assert.equal(await store.create('s1', fresh), true)
      assert.deepEqual(plain(await store.get('s1')), fresh)
      assert.deepEqual(await store.listByUser('u1'), [])
    })

    it('create with { unique: true } stores the record like any create', async () => {
      const store = current()
      const record = session({ userId: 'u1' })
      assert.equal(await store.create('s1', record, { unique: true }), true)
      assert.deepEqual(plain(await store.get('s1')), record)
      assert.deepEqual(
        (await store.listByUser('u1')).map((e) => e.key),
        ['s1'],
      )
    })

    it('destroy removes the record, and a missing key is fine', async () => {
      const store = current()
      await store.create('s1', session({ userId: 'u1' }))
      await store.destroy('s1')
      assert.equal(await store.get('s1'), undefined)
      assert.deepEqual(await store.listByUser('u1'), [])
      await store.destroy('s1')
      await store.destroy('never-existed')
    })

    it('destroy resolves true only when it removed a live record', async () => {
      const store = current()
      await store.create('live', session({ userId: 'u1' }))
      await store.create('old', expiredSession({ userId: 'u1' }))
      assert.equal(await store.destroy('live'), true)
      assert.equal(await store.destroy('live'), false, 'already gone')
      assert.equal(await store.destroy('old'), false, 'expired')
      assert.equal(await store.destroy('never-existed'), false)
      assert.equal(await store.get('old'), undefined)
      assert.deepEqual(await store.listByUser('u1'), [])
    })

    it('of two concurrent destroys of one record, at most one resolves true', async () => {
      const store = current()
      await store.create('s1', session())
      const results = await Promise.all([store.destroy('s1'), store.destroy('s1')])
      assert.ok(results.filter(Boolean).length <= 1, String(results))
      assert.equal(await store.get('s1'), undefined)
    })

    it('a destroyed session cannot be revived by a racing update', async () => {
      const store = current()
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
      const store = current()
      const record = session({ data: { a: '1', b: '2', c: '3' }, userId: 'u1' })
      await store.create('s1', record)
      assert.equal(await store.update('s1', { set: { b: '"two"', d: '4' }, unset: ['c', 'absent'] }), true)
      assert.deepEqual(plain(await store.get('s1')), { ...record, data: { a: '1', b: '"two"', d: '4' } })
    })

    it('replaces meta and moves the deadline, leaving the user and the absolute deadline', async () => {
      const store = current()
      const record = session({ userId: 'u1' })
      await store.create('s1', record)
      const now = Date.now()
      const patch = { meta: { ip: '::1' }, lastSeenAt: now, expiresAt: now + 2 * HOUR }
      assert.equal(await store.update('s1', patch), true)
      const got = await store.get('s1')
      assert.deepEqual({ ...got?.meta }, { ip: '::1' })
      assert.equal(got?.lastSeenAt, patch.lastSeenAt)
      assert.equal(got?.expiresAt, patch.expiresAt)
      assert.equal(got?.absoluteExpiresAt, record.absoluteExpiresAt)
      assert.equal(got?.userId, 'u1')
      assert.deepEqual({ ...got?.data }, session().data)
      assert.deepEqual(
        (await store.listByUser('u1')).map((e) => [e.key, e.record.expiresAt]),
        [['s1', patch.expiresAt]],
      )
    })

    it('a key both unset and set in one patch ends up set', async () => {
      const store = current()
      await store.create('s1', session({ data: { a: '1' } }))
      assert.equal(await store.update('s1', { unset: ['a'], set: { a: '2' } }), true)
      assert.deepEqual({ ...(await store.get('s1'))?.data }, { a: '2' })
    })

    it('resolves false for a missing key and creates nothing', async () => {
      const store = current()
      assert.equal(await store.update('s1', { set: { a: '1' }, expiresAt: Date.now() + HOUR }), false)
      assert.equal(await store.get('s1'), undefined)
    })

    it('resolves false for an expired record and does not revive it', async () => {
      const store = current()
      await store.create('s1', expiredSession({ userId: 'u1' }))
      assert.equal(await store.update('s1', { set: { a: '1' }, expiresAt: Date.now() + HOUR }), false)
      assert.equal(await store.get('s1'), undefined)
      assert.deepEqual(await store.listByUser('u1'), [])
    })

    it('applies concurrent patches to disjoint keys without losing one', async () => {
      const store = current()
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
      const store = current()
      const record = session({ userId: 'u1' })
      await store.create('s1', record)
      const now = Date.now()
      assert.equal(await store.touch('s1', now, now + 2 * HOUR), true)
      assert.deepEqual(plain(await store.get('s1')), { ...record, lastSeenAt: now, expiresAt: now + 2 * HOUR })
    })

    it('resolves false for a missing or expired key', async () => {
      const store = current()
      assert.equal(await store.touch('missing', Date.now(), Date.now() + HOUR), false)
      await store.create('s1', expiredSession())
      assert.equal(await store.touch('s1', Date.now(), Date.now() + HOUR), false)
      assert.equal(await store.get('s1'), undefined)
    })
  })

  describe('users', () => {
    async function seed() {
      const store = current()
      await store.create('a1', session({ userId: 'alice', data: { n: '1' } }))
      await store.create('a2', session({ userId: 'alice', data: { n: '2' } }))
      await store.create('a3', expiredSession({ userId: 'alice' }))
      await store.create('b1', session({ userId: 'bob' }))
      await store.create('anon', session())
    }

    it('listByUser lists only that user’s live sessions, with their records', async () => {
      const store = current()
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
      const store = current()
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
      const store = current()
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
      const store = current()
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

  dataCases(current)
}
