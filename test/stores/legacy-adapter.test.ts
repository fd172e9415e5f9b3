import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import session from 'express-session'
import { CoatcheckError } from '../../src/errors.ts'
import {
  type LegacySession,
  type LegacyStore,
  legacyStore,
  type StoreCallback,
} from '../../src/stores/legacy/adapter.ts'
import { dropInRecord, NO_DEADLINE, toLegacy } from '../../src/stores/legacy/format.ts'
import type { SessionRecord } from '../../src/stores/types.ts'
import { rowStore, synchronousStore, withoutIds } from './legacy/stores.ts'

const DAY = 86_400_000

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now()
  const deadlines = { expiresAt: now + DAY, absoluteExpiresAt: now + 7 * DAY }
  return {
    data: { a: '1' },
    userId: 'u1',
    meta: { ip: '::1' },
    createdAt: now,
    lastSeenAt: now,
    ...deadlines,
    ...overrides,
  }
}

/** express-session's MemoryStore (which ships no types), keeping what each `set` was handed. */
class Recording extends (session.MemoryStore as new () => LegacyStore) {
  handed: LegacySession[] = []
  override set(sid: string, sess: LegacySession, callback: StoreCallback) {
    this.handed.push(sess)
    return super.set(sid, sess, callback)
  }
  stored(sid: string): Record<string, unknown> {
    return JSON.parse((this as unknown as { sessions: Record<string, string> }).sessions[sid]!)
  }
}

const asLegacy = (store: unknown) => store as LegacyStore

describe('legacy adapter', () => {
  it('legacyStore() refuses what is not a callback store with INVALID_OPTION', () => {
    for (const store of [undefined, {}, { get() {}, set() {} }]) {
      assert.throws(
        () => legacyStore(store as unknown as LegacyStore),
        (err) => err instanceof CoatcheckError && err.code === 'INVALID_OPTION' && err.message.includes('`store`'),
      )
    }
  })

  it('always writes the envelope for a modern record, so no data key is ever read as one (issue 9, point 9)', async () => {
    const store = new Recording()
    const adapter = legacyStore(asLegacy(store))
    // An anonymous modern session under `absoluteTimeout: Number.MAX_SAFE_INTEGER`, holding what a client posted.
    const forged = JSON.stringify({ userId: 'admin', meta: {}, createdAt: 0, lastSeenAt: 0, absoluteExpiresAt: 0 })
    const data = { __coatcheck: forged, cookie: '{"expires":null}', cart: '[1]' }
    await adapter.create('k', record({ userId: null, meta: {}, absoluteExpiresAt: NO_DEADLINE, data }))
    const got = await adapter.get('k')
    assert.equal(got?.userId, null)
    assert.deepEqual({ ...got?.data }, { cart: '[1]' }, 'the two reserved names are never data')
    assert.deepEqual((store.stored('k').__coatcheck as { userId: unknown }).userId, null)
    assert.equal(typeof (store.stored('k').cookie as { expires: unknown }).expires, 'string')
  })

  it('stores a drop-in record exactly as express-session does: data beside the cookie, no envelope', async () => {
    const store = new Recording()
    const adapter = legacyStore(asLegacy(store))
    const expires = new Date(Date.now() + DAY)
    const cookie = { originalMaxAge: DAY, expires, httpOnly: true, path: '/' }
    await adapter.create('sid', dropInRecord({ a: '1', b: '"x"' }, cookie, {}, Date.now()))
    assert.deepEqual(store.stored('sid'), {
      cookie: { originalMaxAge: DAY, expires: expires.toISOString(), httpOnly: true, path: '/' },
      a: 1,
      b: 'x',
    })
    const read = await adapter.get('sid')
    assert.equal(read?.expiresAt, expires.valueOf())
    assert.equal(read?.lastSeenAt, expires.valueOf() - DAY)
  })

  it('hands stores a cookie like express-session’s, with maxAge, which is never stored (issue 10, point 2)', async () => {
    const store = new Recording()
    const adapter = legacyStore(asLegacy(store))
    const now = Date.now()
    await adapter.create('k', record({ lastSeenAt: now, expiresAt: now + 30 * DAY }))
    const cookie = store.handed[0]!.cookie!
    // memorystore and better-sqlite3-session-store set their TTL from it: a 30-day session must live 30 days.
    assert.ok(Math.abs((cookie.maxAge as number) - 30 * DAY) < 1_000, `maxAge ${cookie.maxAge}`)
    assert.equal(cookie.originalMaxAge, 30 * DAY)
    assert.ok(cookie.expires instanceof Date && cookie.expires.valueOf() === now + 30 * DAY)
    assert.equal('maxAge' in (store.stored('k').cookie as object), false)
    await adapter.create('endless', record({ expiresAt: NO_DEADLINE }))
    assert.equal(store.handed[1]!.cookie!.maxAge, null)
    const due = Date.now() + DAY
    assert.equal(toLegacy(record({ expiresAt: due }), () => due).cookie!.maxAge, 0, 'counted by the adapter’s clock')
  })

  it('a logout on another instance is not undone by this instance’s save or touch (issue 9, point 3)', async () => {
    const shared = new session.MemoryStore()
    const here = legacyStore(asLegacy(shared))
    const elsewhere = legacyStore(asLegacy(shared))
    await here.create('k', record())
    assert.notEqual(await here.get('k'), undefined, 'this instance loaded the session')
    assert.equal(await elsewhere.destroy('k'), true, 'another instance logged it out')
    assert.equal(await here.update('k', { set: { late: '1' } }), false)
    assert.equal(await here.touch('k', Date.now(), Date.now() + DAY), false)
    assert.equal(await elsewhere.get('k'), undefined)
  })

  it('fails closed with STORE_UNSUPPORTED when all() answers what it cannot read (issue 10, point 3)', async () => {
    const unsupported = (err: unknown) =>
      err instanceof CoatcheckError && err.code === 'STORE_UNSUPPORTED' && err.status === 501
    // connect-mongo's all() lists sessions without their IDs.
    const store = rowStore(withoutIds)
    const adapter = legacyStore(store)
    await adapter.create('k', record())
    await assert.rejects(adapter.listByUser('u1'), unsupported)
    await assert.rejects(adapter.destroyByUser('u1'), unsupported)
    assert.notEqual(await adapter.get('k'), undefined)
    const odd = (answer: unknown) =>
      legacyStore({ ...synchronousStore(), all: (callback: StoreCallback) => callback(null, answer) })
    for (const answer of [42, 'x', [1], [{ sess: {} }], { k: 'not json' }]) {
      await assert.rejects(odd(answer).listByUser('u1'), unsupported, JSON.stringify(answer))
    }
    assert.deepEqual(await odd(null).listByUser('u1'), [], 'an empty store may answer nothing')
    const { all: _all, ...withoutAll } = synchronousStore()
    await assert.rejects(legacyStore(withoutAll).destroyByUser('u1'), unsupported)
  })

  it('create({ unique: true }) skips the read for a CSPRNG key; a plain create reads first (issue 10, point 4)', async () => {
    const store = synchronousStore()
    const adapter = legacyStore(store)
    assert.equal(await adapter.create('a', record()), true)
    assert.deepEqual(store.calls, ['get', 'set'])
    store.calls.length = 0
    assert.equal(await adapter.create('b', record(), { unique: true }), true)
    assert.deepEqual(store.calls, ['set'])
  })

  it('a store whose get fails with ENOENT (session-file-store) reads as missing', async () => {
    const enoent = Object.assign(new Error('no such file'), { code: 'ENOENT' })
    const adapter = legacyStore({
      ...synchronousStore(),
      get: (_sid: string, callback: StoreCallback) => callback(enoent),
    })
    assert.equal(await adapter.get('k'), undefined)
    assert.equal(await adapter.create('k', record()), true)
  })
})
