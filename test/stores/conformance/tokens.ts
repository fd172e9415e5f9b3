import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CoatcheckStore, SessionMeta, TokenRecord } from '../../../src/stores/types.ts'
import { HOUR, plainToken, sortedTokens, token } from './support.ts'

/** A rotation at the wall clock, as the engine makes one. */
const rotation = (hash: string, meta?: SessionMeta) => {
  const now = Date.now()
  return { hash, expiresAt: now + 2 * HOUR, rotatedAt: now, ...(meta && { meta }) }
}

/** Registers the remember-me tokens contract's cases against the store `current()` returns. */
export function tokenCases(current: () => CoatcheckStore): void {
  const tokens = () => current().tokens
  describe('tokens', () => {
    it('create, get, and a duplicate create resolves false', async () => {
      const record = token()
      assert.equal(await tokens().get('t1'), undefined)
      assert.equal(await tokens().create('t1', record), true)
      assert.deepEqual(plainToken(await tokens().get('t1')), record)
      assert.equal(await tokens().create('t1', token({ userId: 'u2', hash: 'other', meta: {} })), false)
      assert.deepEqual(plainToken(await tokens().get('t1')), record)
      assert.deepEqual(await tokens().listByUser('u2'), [])
    })

    it('create and get round-trip meta, previousHash and rotatedAt', async () => {
      const now = Date.now()
      const meta = { s: 'é 🔑 "q" \\', zero: 0, negative: -3, float: 1.5, big: now, yes: true, no: false, none: null }
      const rotated = token({ meta, previousHash: 'hash-0', rotatedAt: now - 1000 })
      assert.equal(await tokens().create('t1', rotated), true)
      assert.deepEqual(plainToken(await tokens().get('t1')), rotated)
      const bare = token({ meta: {} })
      assert.equal(await tokens().create('t2', bare), true)
      const got = await tokens().get('t2')
      assert.deepEqual(plainToken(got), bare)
      assert.equal(got?.previousHash, null)
      assert.equal(got?.rotatedAt, null)
    })

    it('keeps __proto__ and constructor in meta as plain keys', async () => {
      const before = Object.getOwnPropertyNames(Object.prototype).sort()
      const meta = JSON.parse('{"__proto__":"p","constructor":"c","toString":"1","polluted":true}') as SessionMeta
      await tokens().create('t1', token({ userId: 'alice', meta }))
      const check = (got: TokenRecord | undefined, value: string) => {
        assert.ok(got)
        const proto = Object.getPrototypeOf(got.meta)
        assert.ok(proto === null || proto === Object.prototype, 'meta has a plain or null prototype')
        assert.deepEqual(Object.keys(got.meta).sort(), ['__proto__', 'constructor', 'polluted', 'toString'])
        assert.equal(Object.getOwnPropertyDescriptor(got.meta, '__proto__')?.value, value)
        assert.equal(got.meta.constructor, 'c')
        assert.equal(got.meta.toString, '1')
      }
      check(await tokens().get('t1'), 'p')
      check((await tokens().listByUser('alice'))[0]?.record, 'p')
      const next = JSON.parse('{"__proto__":"q","constructor":"c","toString":"1","polluted":true}') as SessionMeta
      assert.equal(await tokens().rotate('t1', 'hash-1', rotation('hash-2', next)), true)
      check(await tokens().get('t1'), 'q')
      check((await tokens().listByUser('alice'))[0]?.record, 'q')
      assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), before)
      assert.equal(({} as Record<string, unknown>).polluted, undefined)
    })

    it('rotate swaps the hash only when the expected hash matches, recording previousHash and rotatedAt', async () => {
      const record = token()
      await tokens().create('t1', record)
      const next = rotation('hash-2')
      assert.equal(await tokens().rotate('t1', 'hash-1', next), true)
      const rotated = { ...record, ...next, previousHash: 'hash-1' }
      assert.deepEqual(plainToken(await tokens().get('t1')), rotated, 'meta, userId and createdAt are kept')
      assert.equal(await tokens().rotate('t1', 'hash-1', rotation('hash-3', { stale: true })), false)
      assert.deepEqual(plainToken(await tokens().get('t1')), rotated, 'a refused rotation writes nothing')
      const again = { ...rotation('hash-3'), rotatedAt: next.rotatedAt + 1 }
      assert.equal(await tokens().rotate('t1', 'hash-2', again), true)
      assert.deepEqual(plainToken(await tokens().get('t1')), { ...rotated, ...again, previousHash: 'hash-2' })
      assert.equal(await tokens().rotate('missing', 'hash-1', next), false)
      assert.equal(await tokens().get('missing'), undefined)
      assert.deepEqual(sortedTokens(await tokens().listByUser('u1')), [
        { id: 't1', record: { ...rotated, ...again, previousHash: 'hash-2' } },
      ])
    })

    it('rotate replaces meta as a whole when given one', async () => {
      const record = token({ meta: { authAt: 1, ip: '10.0.0.1', ua: 'old' } })
      await tokens().create('t1', record)
      const meta = { authAt: 1, ip: '::1', lastUsedAt: Date.now() }
      const next = rotation('hash-2', meta)
      assert.equal(await tokens().rotate('t1', 'hash-1', next), true)
      const got = await tokens().get('t1')
      assert.deepEqual({ ...got?.meta }, meta)
      assert.deepEqual(plainToken(got), { ...record, ...next, previousHash: 'hash-1' })
      assert.equal(await tokens().rotate('t1', 'hash-2', rotation('hash-3', {})), true)
      assert.deepEqual({ ...(await tokens().get('t1'))?.meta }, {})
    })

    it('lets exactly one of several concurrent rotations win, and writes only the winner’s fields', async () => {
      const record = token()
      await tokens().create('t1', record)
      const now = Date.now()
      const contenders = ['left', 'right', 'up', 'down', 'centre'].map((hash, i) => ({
        hash,
        expiresAt: now + HOUR + i,
        rotatedAt: now + i,
        meta: { winner: hash },
      }))
      const results = await Promise.all(contenders.map((next) => tokens().rotate('t1', 'hash-1', next)))
      assert.equal(results.filter(Boolean).length, 1, String(results))
      const winner = contenders[results.indexOf(true)]!
      assert.deepEqual(plainToken(await tokens().get('t1')), { ...record, ...winner, previousHash: 'hash-1' })
    })

    it('treats an expired token as missing', async () => {
      await tokens().create('t1', token({ expiresAt: Date.now() - 1 }))
      assert.equal(await tokens().get('t1'), undefined)
      assert.deepEqual(await tokens().listByUser('u1'), [])
      assert.equal(await tokens().rotate('t1', 'hash-1', rotation('hash-2', { revived: true })), false)
      assert.equal(await tokens().get('t1'), undefined)
      assert.deepEqual(await tokens().listByUser('u1'), [])
      const fresh = token({ hash: 'fresh', meta: {} })
      assert.equal(await tokens().create('t1', fresh), true)
      assert.deepEqual(plainToken(await tokens().get('t1')), fresh, 'nothing of the expired token is left')
    })

    it('listByUser lists only that user’s live tokens, with their records', async () => {
      await tokens().create('a1', token({ userId: 'user:ü 1*', meta: { n: 1 } }))
      await tokens().create('a2', token({ userId: 'user:ü 1*', meta: { n: 2 } }))
      await tokens().create('a3', token({ userId: 'user:ü 1*', expiresAt: Date.now() - 1 }))
      await tokens().create('b1', token({ userId: 'user:ü 1' }))
      await tokens().create('c1', token({ userId: 'User:ü 1*' }))
      await tokens().rotate('a2', 'hash-1', rotation('hash-2', { n: 3 }))
      assert.deepEqual(sortedTokens(await tokens().listByUser('user:ü 1*')), [
        { id: 'a1', record: plainToken(await tokens().get('a1')) },
        { id: 'a2', record: plainToken(await tokens().get('a2')) },
      ])
      assert.equal((await tokens().listByUser('user:ü 1*')).find((e) => e.id === 'a2')?.record.previousHash, 'hash-1')
      assert.deepEqual(
        (await tokens().listByUser('user:ü 1')).map((e) => e.id),
        ['b1'],
      )
      assert.deepEqual(
        (await tokens().listByUser('User:ü 1*')).map((e) => e.id),
        ['c1'],
      )
      assert.deepEqual(await tokens().listByUser('nobody'), [])
    })

    it('a rotation that moves the deadline keeps the token listed past its first one', async () => {
      await tokens().create('t1', token({ expiresAt: Date.now() + 200 }))
      const next = rotation('hash-2')
      assert.equal(await tokens().rotate('t1', 'hash-1', next), true)
      await sleep(250)
      assert.equal((await tokens().get('t1'))?.expiresAt, next.expiresAt)
      assert.deepEqual(
        (await tokens().listByUser('u1')).map((e) => [e.id, e.record.expiresAt]),
        [['t1', next.expiresAt]],
      )
      assert.equal(await tokens().destroyByUser('u1'), 1)
      assert.equal(await tokens().get('t1'), undefined)
    })

    it('destroy removes a token from get and from listByUser, and a missing one is fine', async () => {
      await tokens().create('t1', token())
      await tokens().create('t2', token())
      await tokens().destroy('t1')
      assert.equal(await tokens().get('t1'), undefined)
      assert.deepEqual(
        (await tokens().listByUser('u1')).map((e) => e.id),
        ['t2'],
      )
      await tokens().destroy('t1')
      await tokens().destroy('never-existed')
      assert.equal(await tokens().create('t1', token()), true)
      assert.deepEqual((await tokens().listByUser('u1')).map((e) => e.id).sort(), ['t1', 't2'])
    })

    it('destroyByUser removes only that user’s tokens, counts the live ones, and empties the listing', async () => {
      await tokens().create('a1', token({ userId: 'alice' }))
      await tokens().create('a2', token({ userId: 'alice' }))
      await tokens().create('a3', token({ userId: 'alice', expiresAt: Date.now() - 1 }))
      await tokens().create('b1', token({ userId: 'bob' }))
      await tokens().rotate('a2', 'hash-1', rotation('hash-2'))
      assert.equal(await tokens().destroyByUser('alice'), 2)
      assert.equal(await tokens().get('a1'), undefined)
      assert.equal(await tokens().get('a2'), undefined)
      assert.deepEqual(await tokens().listByUser('alice'), [])
      assert.equal((await tokens().get('b1'))?.userId, 'bob')
      assert.deepEqual(
        (await tokens().listByUser('bob')).map((e) => e.id),
        ['b1'],
      )
      assert.equal(await tokens().destroyByUser('alice'), 0)
      assert.equal(await tokens().destroyByUser('nobody'), 0)
    })
  })
}
