import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { CoatcheckError } from '../../../src/errors.ts'
import type { SessionStore } from '../../../src/stores/types.ts'
import { session } from './support.ts'

/** Data keys of every shape an app may use; a value's JSON text is the key itself, so a mix-up shows. */
const DATA_KEYS = [
  'a.b',
  'a b',
  '$where',
  'd:x',
  'userId',
  'meta',
  'expiresAt',
  'id',
  'sid',
  'sess',
  'toString',
  'hasOwnProperty',
  'Cart',
  'cart',
  'ключ',
  'é',
  '🔑',
  'k*?[x] %20\\',
  '"quoted"',
  'x'.repeat(300),
]

/** User IDs that must stay apart from each other and from a prefix of themselves. */
const USER_IDS = ['user:ü 1*', 'user:ü 1', 'User:ü 1*', 'alice@example.com', 'ユーザー', '🔑', '*', '?', '42', 'a,b']

const isTooLarge = (bytes: number, max: number) => (error: unknown) =>
  error instanceof CoatcheckError &&
  error.code === 'SESSION_TOO_LARGE' &&
  error.status === 413 &&
  error.message === `coatcheck: session of ${bytes} bytes exceeds maxBytes (${max})`

/** Cases about what data, keys and user IDs come back, and the `maxBytes` bound. */
export function dataCases(current: () => SessionStore): void {
  describe('keys', () => {
    it('keeps __proto__ and constructor in data as plain keys', async () => {
      const store = current()
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
      const store = current()
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

    it('data keys with unusual characters round-trip through create, update and listByUser', async () => {
      const store = current()
      const data = Object.fromEntries(DATA_KEYS.map((key) => [key, JSON.stringify(key)]))
      await store.create('s1', session({ userId: 'u1', data }))
      assert.deepEqual({ ...(await store.get('s1'))?.data }, data)
      const set = Object.fromEntries(DATA_KEYS.map((key) => [`${key}2`, JSON.stringify([key])]))
      assert.equal(await store.update('s1', { set, unset: DATA_KEYS.slice(0, 10) }), true)
      const expected = { ...Object.fromEntries(DATA_KEYS.slice(10).map((key) => [key, data[key]!])), ...set }
      assert.deepEqual({ ...(await store.get('s1'))?.data }, expected)
      const [entry] = await store.listByUser('u1')
      assert.deepEqual({ ...entry?.record.data }, expected)
    })

    it('user IDs with unusual characters round-trip and never mix', async () => {
      const store = current()
      for (const [i, userId] of USER_IDS.entries()) {
        assert.equal(await store.create(`s${i}`, session({ userId, data: { i: String(i) } })), true)
      }
      for (const [i, userId] of USER_IDS.entries()) {
        assert.equal((await store.get(`s${i}`))?.userId, userId)
        const listed = await store.listByUser(userId)
        assert.deepEqual(
          listed.map((e) => [e.key, e.record.userId]),
          [[`s${i}`, userId]],
          userId,
        )
      }
      assert.equal(await store.destroyByUser('user:ü 1'), 1)
      assert.equal((await store.get('s0'))?.userId, 'user:ü 1*')
      assert.equal((await store.get('s2'))?.userId, 'User:ü 1*')
    })
  })

  describe('maxBytes', () => {
    it('counts the UTF-8 bytes of each key and of its JSON text, and refuses past the bound, writing nothing', async () => {
      const store = current()
      const record = session({ data: {} })
      await store.create('s1', record)
      // '🔑' is 4 bytes, '"é"' is 4: 8 bytes in all.
      const patch = { set: { '🔑': '"é"' }, meta: { ip: '::1' }, expiresAt: record.expiresAt + 1000, maxBytes: 7 }
      await assert.rejects(store.update('s1', patch), isTooLarge(8, 7))
      const kept = await store.get('s1')
      assert.deepEqual({ ...kept?.data }, {})
      assert.deepEqual({ ...kept?.meta }, record.meta, 'nothing of the refused patch was written')
      assert.equal(kept?.expiresAt, record.expiresAt)
      assert.equal(await store.update('s1', { ...patch, maxBytes: 8 }), true)
      assert.deepEqual({ ...(await store.get('s1'))?.data }, { '🔑': '"é"' })
    })

    it('judges the data as stored, not the patch alone', async () => {
      const store = current()
      await store.create('s1', session({ data: { a: '"xxxx"' } }))
      await assert.rejects(store.update('s1', { set: { b: '1' }, maxBytes: 8 }), isTooLarge(9, 8))
      assert.equal(await store.update('s1', { set: { a: '"x"', b: '1' }, maxBytes: 8 }), true)
      assert.deepEqual({ ...(await store.get('s1'))?.data }, { a: '"x"', b: '1' })
    })

    it('always lets a patch shrink the data, even above the bound', async () => {
      const store = current()
      await store.create('s1', session({ data: { big: JSON.stringify('x'.repeat(100)), small: '1' } }))
      assert.equal(await store.update('s1', { unset: ['small'], maxBytes: 10 }), true)
      assert.equal(await store.update('s1', { set: { big: '"still too big"' }, maxBytes: 10 }), true)
      assert.deepEqual({ ...(await store.get('s1'))?.data }, { big: '"still too big"' })
      await assert.rejects(store.update('s1', { set: { more: '1' }, maxBytes: 10 }), isTooLarge(23, 10))
    })

    it('counts a key unset twice, or unset and set, once', async () => {
      const store = current()
      await store.create('s1', session({ data: { a: JSON.stringify('x'.repeat(40)), b: '1' } })) // 45 bytes
      // Counting `a` twice would see 45 - 86 + 45 = 4 bytes after the patch, and store 47.
      await assert.rejects(
        store.update('s1', { unset: ['a', 'a'], set: { a: JSON.stringify('x'.repeat(40)), c: '1' }, maxBytes: 45 }),
        isTooLarge(47, 45),
      )
      assert.equal(await store.update('s1', { unset: ['b', 'b'], maxBytes: 45 }), true)
      await assert.rejects(store.update('s1', { set: { d: '12' }, maxBytes: 45 }), isTooLarge(46, 45))
      assert.deepEqual({ ...(await store.get('s1'))?.data }, { a: JSON.stringify('x'.repeat(40)) })
    })

    it('ten concurrent patches each adding a 900-byte key under maxBytes 1000 leave one stored', async () => {
      const store = current()
      await store.create('s1', session({ data: {} }))
      const value = JSON.stringify('x'.repeat(896))
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => store.update('s1', { set: { [`k${i}`]: value }, maxBytes: 1000 })),
      )
      const kept = Object.keys((await store.get('s1'))?.data ?? {})
      assert.equal(kept.length, 1, `stored: ${kept}`)
      assert.equal(results.filter((r) => r.status === 'fulfilled' && r.value === true).length, 1)
      for (const result of results) {
        if (result.status === 'rejected') assert.ok(isTooLarge(1800, 1000)(result.reason), String(result.reason))
      }
    })
  })
}
