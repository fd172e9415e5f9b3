import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { CoatcheckError } from '../../src/errors.ts'
import { redisStore } from '../../src/stores/redis/index.ts'
import type { SessionRecord } from '../../src/stores/types.ts'
import { type RedisServer, startRedis } from '../support/redis.ts'
import { token } from './conformance/support.ts'

const HOUR = 3_600_000
const uniquePrefix = () => `cc-evict:${randomUUID()}:`

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now()
  const deadlines = { expiresAt: now + HOUR, absoluteExpiresAt: now + 24 * HOUR }
  return { data: { a: '1' }, userId: 'alice', meta: {}, createdAt: now, lastSeenAt: now, ...deadlines, ...overrides }
}

const stat = (info: unknown, name: string) => Number(new RegExp(`${name}:(\\d+)`).exec(String(info))?.[1] ?? 0)

describe('redisStore and the server’s maxmemory-policy', () => {
  let server: RedisServer
  let client: ReturnType<typeof createClient>
  const setPolicy = (policy: string) => client.sendCommand(['CONFIG', 'SET', 'maxmemory-policy', policy])
  before(async () => {
    server = await startRedis()
    client = createClient({ url: server.url })
    await client.connect()
  })
  after(async () => {
    await client?.close()
    await server?.stop()
  })

  it('under allkeys-* refuses every call, naming the policy and the fix, and heals once the policy is fixed', async () => {
    await setPolicy('allkeys-lru')
    try {
      const store = redisStore({ client, prefix: uniquePrefix() })
      const refused = (err: unknown) =>
        err instanceof CoatcheckError &&
        err.code === 'STORE_UNSUPPORTED' &&
        /maxmemory-policy allkeys-lru/.test(err.message) &&
        /`maxmemory-policy noeviction`/.test(err.message)
      await assert.rejects(store.get('s1'), refused)
      await assert.rejects(store.create('s1', record()), refused)
      await assert.rejects(store.counters.hit('c', HOUR), refused)
      const keys = (await client.sendCommand(['DBSIZE'])) as number
      assert.equal(keys, 0, 'nothing was written')
      await setPolicy('noeviction')
      assert.equal(await store.create('s1', record()), true)
    } finally {
      await setPolicy('noeviction')
    }
  })

  it('reads the policy once, on the first call, however many calls wait for it', async () => {
    const store = redisStore({ client, prefix: uniquePrefix() })
    await client.sendCommand(['CONFIG', 'RESETSTAT'])
    await Promise.all(Array.from({ length: 5 }, (_, i) => store.get(`s${i}`)))
    await store.get('again')
    const stats = await client.sendCommand(['INFO', 'commandstats'])
    assert.equal(/cmdstat_config\|get:calls=(\d+)/.exec(String(stats))?.[1], '1', String(stats))
  })

  it('under noeviction the user indexes expire with their last member; under volatile-* they have no TTL', async () => {
    const pttl = async (key: string) => Number(await client.sendCommand(['PTTL', key]))
    const prefix = uniquePrefix()
    const store = redisStore({ client, prefix })
    await store.create('s1', record())
    await store.tokens.create('t1', token({ userId: 'alice' }))
    assert.ok((await pttl(`${prefix}u:alice`)) > 0)
    assert.ok((await pttl(`${prefix}tu:alice`)) > 0)
    await setPolicy('volatile-lru')
    try {
      const volatile = uniquePrefix()
      const evicting = redisStore({ client, prefix: volatile })
      await evicting.create('s1', record())
      await evicting.tokens.create('t1', token({ userId: 'alice' }))
      await evicting.tokens.rotate('t1', 'hash-1', { hash: 'hash-2', expiresAt: Date.now() + HOUR, rotatedAt: 1 })
      assert.equal(await pttl(`${volatile}u:alice`), -1)
      assert.equal(await pttl(`${volatile}tu:alice`), -1)
      assert.ok((await pttl(`${volatile}s:s1`)) > 0, 'sessions keep their TTL')
      assert.ok((await pttl(`${volatile}t:t1`)) > 0, 'tokens keep their TTL')
      assert.deepEqual(
        (await evicting.tokens.listByUser('alice')).map((e) => [e.id, e.record.hash]),
        [['t1', 'hash-2']],
      )
      await client.sendCommand(['DEL', `${volatile}t:t1`]) // as an eviction would
      assert.deepEqual(await evicting.tokens.listByUser('alice'), [], 'an evicted token is not listed')
      assert.equal(await evicting.tokens.destroyByUser('alice'), 0)
    } finally {
      await setPolicy('noeviction')
    }
  })

  it('where CONFIG is forbidden (an ACL, a managed Redis) works, keeping the index unevictable', async () => {
    await client.sendCommand(['ACL', 'SETUSER', 'limited', 'on', '>secret', '~*', '&*', '+@all', '-config'])
    const limited = createClient({ url: server.url, username: 'limited', password: 'secret' })
    await limited.connect()
    const raw = new Redis({ port: server.port, host: '127.0.0.1', username: 'limited', password: 'secret' })
    try {
      await assert.rejects(limited.sendCommand(['CONFIG', 'GET', 'maxmemory-policy']), /NOPERM/)
      for (const flavour of [limited, raw]) {
        const prefix = uniquePrefix()
        const store = redisStore({ client: flavour, prefix })
        assert.equal(await store.create('s1', record()), true)
        assert.equal((await store.get('s1'))?.userId, 'alice')
        assert.equal(Number(await client.sendCommand(['PTTL', `${prefix}u:alice`])), -1)
      }
    } finally {
      await limited.close()
      await raw.quit()
    }
  })
})

describe('redisStore on a full Redis that evicts (volatile-lru, small maxmemory)', () => {
  let server: RedisServer
  let client: ReturnType<typeof createClient>
  before(async () => {
    const args = ['--maxmemory', '4mb', '--maxmemory-policy', 'volatile-lru', '--maxmemory-samples', '10']
    server = await startRedis({ args })
    client = createClient({ url: server.url })
    await client.connect()
  })
  after(async () => {
    await client?.close()
    await server?.stop()
  })

  it('revokeAllSessions (destroyByUser) still removes every live session of the user', {
    timeout: 60_000,
  }, async () => {
    const store = redisStore({ client, prefix: 'app:' })
    const keys = Array.from({ length: 20 }, (_, i) => `alice-${i}`)
    for (const key of keys) assert.equal(await store.create(key, record()), true)
    // Redis' LRU clock ticks once a second: let the index, last written at the last login, grow older than the
    // sessions alice goes on using.
    await sleep(2_100)
    for (const key of keys) await store.get(key)
    // Fill the rest with the app's own keys, which have no TTL, until Redis has to evict: under volatile-lru it may
    // only take keys with a TTL, and picks the least recently used first. Small keys near the limit, so that each
    // write past it evicts one or two small keys rather than everything with a TTL.
    const memory = async () => stat(await client.sendCommand(['INFO', 'memory']), 'used_memory')
    let i = 0
    while ((await memory()) < 4 * 1024 * 1024 - 200_000)
      await client.sendCommand(['SET', `app:big:${i++}`, 'x'.repeat(50_000)])
    let evicted = 0
    while (evicted < 3 && i < 100_000) {
      await client.sendCommand(['SET', `app:small:${i++}`, 'x'.repeat(64)])
      evicted = stat(await client.sendCommand(['INFO', 'stats']), 'evicted_keys')
    }
    assert.ok(evicted >= 3, `evicted_keys: ${evicted}`)
    // Back below the limit, so that no more evictions happen while the test looks.
    await client.sendCommand(['DEL', 'app:big:0', 'app:big:1', 'app:big:2'])
    const live: string[] = []
    for (const key of keys) if ((await store.get(key)) !== undefined) live.push(key)
    assert.ok(live.length > 0, 'some of alice’s sessions survived the eviction')
    assert.equal(await store.destroyByUser('alice'), live.length)
    for (const key of keys) assert.equal(await store.get(key), undefined, key)
    assert.deepEqual(await store.listByUser('alice'), [])
  })
})
