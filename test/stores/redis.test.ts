import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { after, before, describe, it } from 'node:test'
import { Cluster, Redis } from 'ioredis'
import { createClient, createCluster } from 'redis'
import { CoatcheckError } from '../../src/errors.ts'
import { type RedisClient, type RedisStoreOptions, redisStore } from '../../src/stores/redis/index.ts'
import type { SessionPatch, SessionRecord } from '../../src/stores/types.ts'
import { type RedisCluster, type RedisServer, startRedis, startRedisCluster } from '../support/redis.ts'
import { storeConformance } from './conformance/index.ts'
import { plainToken, sortedTokens, token } from './conformance/support.ts'

const HOUR = 3_600_000
const uniquePrefix = () => `cc-test:${randomUUID()}:`

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now()
  return {
    data: { cart: '[1,2]' },
    userId: null,
    meta: { ip: '::1' },
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + HOUR,
    absoluteExpiresAt: now + 24 * HOUR,
    ...overrides,
  }
}

/** One client of each flavour, with a raw `command` for inspecting keys; each test's store gets its own prefix. */
interface Flavour {
  name: string
  client: RedisClient
  command(key: string, ...args: string[]): Promise<unknown>
  close(): Promise<void>
}

function nodeRedis(server: RedisServer): Flavour {
  const client = createClient({ url: server.url })
  return {
    name: 'node-redis',
    client,
    command: (_key, ...args) => client.sendCommand(args),
    close: () => client.close(),
  }
}

function ioredis(server: RedisServer): Flavour {
  const client = new Redis(server.port, '127.0.0.1')
  return {
    name: 'ioredis',
    client,
    command: (_key, command, ...args) => client.call(command!, ...args),
    close: async () => void (await client.quit()),
  }
}

function nodeRedisCluster(cluster: RedisCluster): Flavour {
  const client = createCluster({ rootNodes: cluster.addresses.map((a) => ({ url: `redis://${a.host}:${a.port}` })) })
  return {
    name: 'node-redis cluster',
    client,
    command: (key, ...args) => client.sendCommand(key, false, args),
    close: () => client.close(),
  }
}

function ioredisCluster(cluster: RedisCluster): Flavour {
  const client = new Cluster(cluster.addresses)
  return {
    name: 'ioredis Cluster',
    client,
    command: (_key, command, ...args) => client.call(command!, ...args),
    close: async () => void (await client.quit()),
  }
}

/** Conformance and key checks for one client; `flavour` is filled in by the caller's `before` hook. */
function suite(name: string, current: () => Flavour) {
  storeConformance({
    name,
    open: async () => redisStore({ client: current().client, prefix: uniquePrefix() }),
    expiresOnItsOwn: true,
  })

  describe(`redisStore layout: ${name}`, () => {
    it('writes the documented keys, with Redis TTLs at the deadlines', async () => {
      const { client, command } = current()
      const prefix = uniquePrefix()
      const store = redisStore({ client, prefix })
      const r = record({ userId: 'alice', data: Object.fromEntries([['__proto__', '"p"']]) })
      assert.equal(await store.create('k1', r), true)
      const hashOf = async (key: string) => {
        assert.equal(await command(key, 'TYPE', key), 'hash')
        const fields = (await command(key, 'HGETALL', key)) as string[] | Record<string, string>
        const hash = Array.isArray(fields)
          ? Object.fromEntries(fields.flatMap((_, i) => (i % 2 ? [] : [[fields[i], fields[i + 1]]])))
          : fields
        return { ...hash }
      }
      const s = `${prefix}s:k1`
      const { i, ...hash } = await hashOf(s)
      assert.deepEqual(hash, {
        'd:__proto__': '"p"',
        z: '12',
        userId: 'alice',
        meta: '{"ip":"::1"}',
        createdAt: String(r.createdAt),
        lastSeenAt: String(r.lastSeenAt),
        expiresAt: String(r.expiresAt),
        absoluteExpiresAt: String(r.absoluteExpiresAt),
      })
      const pttl = Number(await command(s, 'PTTL', s))
      assert.ok(Math.abs(r.expiresAt - Date.now() - pttl) < 1_000, `PTTL ${pttl}`)
      const u = `${prefix}u:alice`
      assert.equal(await command(u, 'TYPE', u), 'zset')
      // Listed with room to slide: as far past its deadline again as that lies ahead, and `i` says so.
      const score = async () => Number(await command(u, 'ZSCORE', u, 'k1'))
      const near = (actual: number, expected: number, what: string) =>
        assert.ok(Math.abs(actual - expected) < 1_000, `${what}: ${actual} vs ${expected}`)
      near(await score(), r.expiresAt + HOUR, 'the first score')
      assert.equal(i, String(await score()))
      near(Number(await command(u, 'PTTL', u)), HOUR * 2, 'the index expires with its last member')

      // A touch within the room leaves the index alone; one past it lists the session further.
      const first = await score()
      assert.equal(await store.touch('k1', Date.now(), Date.now() + 1.5 * HOUR), true)
      assert.equal(await score(), first)
      const later = Date.now() + 3 * HOUR
      assert.equal(await store.touch('k1', Date.now(), later), true)
      near(await score(), later + 3 * HOUR, 'after a touch past the room')
      assert.equal(await command(s, 'HGET', s, 'i'), String(await score()))
      assert.ok(Math.abs(later - Date.now() - Number(await command(s, 'PTTL', s))) < 1_000)
      // Never past the absolute deadline, unless the deadline itself is (not one the engine makes).
      const late = Date.now() + 20 * HOUR
      assert.equal(await store.touch('k1', Date.now(), late), true)
      assert.equal(await score(), r.absoluteExpiresAt)
      const beyond = r.absoluteExpiresAt + HOUR
      assert.equal(await store.update('k1', { set: { n: '1' }, expiresAt: beyond }), true)
      assert.equal(await score(), beyond)
      assert.equal(await command(s, 'HGET', s, 'i'), String(beyond))
      // A hash from before `i` is listed again on its first deadline move, and scores only grow.
      await command(s, 'HDEL', s, 'i')
      assert.equal(await store.touch('k1', Date.now(), later), true)
      near(Number(await command(s, 'HGET', s, 'i')), later + (later - Date.now()), 'i of an older hash')
      assert.equal(await score(), beyond, 'scores only grow')

      const tokenMeta = JSON.parse('{"__proto__":"p","ip":"::1"}')
      await store.tokens.create(
        't1',
        token({ userId: 'alice', hash: 'h', meta: tokenMeta, createdAt: 1, expiresAt: later }),
      )
      const t = `${prefix}t:t1`
      assert.deepEqual(await hashOf(t), {
        userId: 'alice',
        hash: 'h',
        meta: '{"__proto__":"p","ip":"::1"}',
        createdAt: '1',
        expiresAt: String(later),
      })
      assert.ok(Math.abs(later - Date.now() - Number(await command(t, 'PTTL', t))) < 1_000)
      const tu = `${prefix}tu:alice`
      assert.equal(await command(tu, 'TYPE', tu), 'zset')
      assert.equal(Number(await command(tu, 'ZSCORE', tu, 't1')), later)
      assert.ok(Number(await command(tu, 'PTTL', tu)) > 0, 'the index expires with its last member')
      const rotated = { hash: 'h2', expiresAt: later + HOUR, rotatedAt: 5, meta: { ip: '::2' } }
      assert.equal(await store.tokens.rotate('t1', 'h', rotated), true)
      assert.deepEqual(await hashOf(t), {
        userId: 'alice',
        hash: 'h2',
        meta: '{"ip":"::2"}',
        createdAt: '1',
        expiresAt: String(later + HOUR),
        previousHash: 'h',
        rotatedAt: '5',
      })
      assert.equal(Number(await command(tu, 'ZSCORE', tu, 't1')), later + HOUR)
      assert.ok(Math.abs(later + HOUR - Date.now() - Number(await command(t, 'PTTL', t))) < 1_000)

      await store.counters.hit('ip:1', 60_000)
      const c = `${prefix}c:ip:1`
      assert.equal(await command(c, 'GET', c), '1')
      assert.ok(Number(await command(c, 'PTTL', c)) > 50_000)

      await store.destroy('k1')
      assert.equal(Number(await command(s, 'EXISTS', s)), 0)
      assert.equal(await command(u, 'ZSCORE', u, 'k1'), null)
    })

    it('skips, and never deletes through, an index entry that points at another user’s session', async () => {
      const { client, command } = current()
      const prefix = uniquePrefix()
      const store = redisStore({ client, prefix })
      await store.create('bobs', record({ userId: 'bob' }))
      const u = `${prefix}u:alice`
      await command(u, 'ZADD', u, String(Date.now() + HOUR), 'bobs', String(Date.now() + HOUR), 'gone')
      assert.deepEqual(await store.listByUser('alice'), [])
      assert.equal(await store.destroyByUser('alice'), 0)
      assert.equal((await store.get('bobs'))?.userId, 'bob')
    })

    it('keeps the data size in `z` through every patch, and sizes a hash written before `z` once', async () => {
      const { client, command } = current()
      const prefix = uniquePrefix()
      const store = redisStore({ client, prefix })
      const s = `${prefix}s:k1`
      const size = async () => {
        const fields = (await command(s, 'HGETALL', s)) as string[] | Record<string, string>
        const hash: Record<string, string> = Array.isArray(fields)
          ? Object.fromEntries(fields.flatMap((_, i) => (i % 2 ? [] : [[fields[i], fields[i + 1]]])))
          : fields
        const data = Object.entries(hash).filter(([f]) => f.startsWith('d:'))
        return { z: hash.z, bytes: data.reduce((n, [f, v]) => n + Buffer.byteLength(f) - 2 + Buffer.byteLength(v), 0) }
      }
      assert.equal(await store.create('k1', record({ data: { a: '"é"', b: '[1,2]' } })), true)
      const patches: SessionPatch[] = [
        { set: { c: '{"x":1}' }, maxBytes: 100 },
        { set: { a: '"longer"' }, unset: ['b'], maxBytes: 100 },
        { unset: ['c'] },
        { set: { b: '2' }, unset: ['b'], maxBytes: 100 },
      ]
      for (const patch of patches) {
        assert.equal(await store.update('k1', patch), true)
        const { z, bytes } = await size()
        assert.equal(Number(z), bytes, JSON.stringify(patch))
      }
      // A hash from before `z`: the first bounded write sizes it from its fields, then keeps `z`.
      await command(s, 'HDEL', s, 'z')
      const { bytes } = await size()
      await assert.rejects(store.update('k1', { set: { d: '"0123456789"' }, maxBytes: bytes + 5 }), CoatcheckError)
      assert.equal(await store.update('k1', { set: { d: '1' }, maxBytes: bytes + 5 }), true)
      assert.equal(Number((await size()).z), bytes + 2)
    })

    it('reads a token hash written before tokens had meta as never rotated, with empty meta', async () => {
      const { client, command } = current()
      const prefix = uniquePrefix()
      const store = redisStore({ client, prefix })
      const expiresAt = Date.now() + HOUR
      const t = `${prefix}t:old`
      await command(t, 'HSET', t, 'userId', 'alice', 'hash', 'h', 'createdAt', '1', 'expiresAt', String(expiresAt))
      await command(t, 'PEXPIREAT', t, String(expiresAt))
      const tu = `${prefix}tu:alice`
      await command(tu, 'ZADD', tu, String(expiresAt), 'old')
      const kept = {
        userId: 'alice',
        hash: 'h',
        meta: {},
        previousHash: null,
        rotatedAt: null,
        createdAt: 1,
        expiresAt,
      }
      assert.deepEqual(plainToken(await store.tokens.get('old')), kept)
      assert.deepEqual(sortedTokens(await store.tokens.listByUser('alice')), [{ id: 'old', record: kept }])
      assert.equal(await store.tokens.rotate('old', 'h', { hash: 'h2', expiresAt, rotatedAt: 2 }), true)
      assert.deepEqual(plainToken(await store.tokens.get('old')), {
        ...kept,
        hash: 'h2',
        previousHash: 'h',
        rotatedAt: 2,
      })
    })

    it('skips, and never deletes through, a token index entry that points at another user’s token', async () => {
      const { client, command } = current()
      const prefix = uniquePrefix()
      const store = redisStore({ client, prefix })
      await store.tokens.create('bobs', token({ userId: 'bob' }))
      const tu = `${prefix}tu:alice`
      await command(tu, 'ZADD', tu, String(Date.now() + HOUR), 'bobs', String(Date.now() + HOUR), 'gone')
      assert.deepEqual(await store.tokens.listByUser('alice'), [])
      assert.equal(await store.tokens.destroyByUser('alice'), 0)
      assert.equal((await store.tokens.get('bobs'))?.userId, 'bob')
    })

    it('applies patches with thousands of keys in one script', async () => {
      const { client } = current()
      const store = redisStore({ client, prefix: uniquePrefix() })
      const many = Object.fromEntries(Array.from({ length: 3_001 }, (_, i) => [`k${i}`, String(i)]))
      assert.equal(await store.create('s1', record({ data: many })), true)
      const unset = Object.keys(many).filter((_, i) => i % 2 === 0)
      const set = Object.fromEntries(Array.from({ length: 2_501 }, (_, i) => [`n${i}`, `"${i}"`]))
      assert.equal(await store.update('s1', { set, unset }), true)
      const data = (await store.get('s1'))?.data ?? {}
      assert.equal(Object.keys(data).length, 1_500 + 2_501)
      assert.equal(data.k1, '1')
      assert.equal(data.k2, undefined)
      assert.equal(data.n2500, '"2500"')
    })
  })
}

describe('redisStore on a standalone server', () => {
  let server: RedisServer
  const flavours: Flavour[] = []
  before(async () => {
    server = await startRedis()
    flavours.push(nodeRedis(server), ioredis(server))
    await (flavours[0]!.client as ReturnType<typeof createClient>).connect()
  })
  after(async () => {
    await Promise.all(flavours.map((f) => f.close()))
    await server?.stop()
  })

  suite('redis, node-redis', () => flavours[0]!)
  suite('redis, ioredis', () => flavours[1]!)

  it('a login racing a revoke-all stays listed, so the next revoke-all ends it', async () => {
    const io = flavours[1]!.client as Redis
    const prefix = uniquePrefix()
    let release: (() => void) | undefined
    let held: (() => void) | undefined
    const holding = new Promise<void>((resolve) => {
      held = resolve
    })
    // An ioredis-shaped client that holds the login's create script: it is listed, and its hash not yet written.
    const client = {
      async call(command: string, ...args: string[]) {
        if (command.startsWith('EVAL') && args[2] === `${prefix}s:new` && release === undefined) {
          await new Promise<void>((resolve) => {
            release = resolve
            held!()
          })
        }
        return io.call(command, ...args)
      },
    }
    const store = redisStore({ client: client as unknown as RedisClient, prefix })
    await store.create('old', record({ userId: 'u' }))
    const login = store.create('new', record({ userId: 'u' }))
    await holding
    assert.equal(await store.destroyByUser('u'), 1)
    release!()
    assert.equal(await login, true)
    assert.deepEqual(
      (await store.listByUser('u')).map((entry) => entry.key),
      ['new'],
    )
    assert.equal(await store.destroyByUser('u'), 1)
    assert.equal(await store.get('new'), undefined)
  })

  it('a session that idled out stops being listed about an idle timeout later, not at its absolute deadline', async () => {
    const { client, command } = flavours[0]!
    const prefix = uniquePrefix()
    const store = redisStore({ client, prefix })
    const now = Date.now()
    await store.create('k', record({ userId: 'u', expiresAt: now + 200, absoluteExpiresAt: now + 24 * HOUR }))
    const u = `${prefix}u:u`
    assert.ok(
      Number(await command(u, 'ZSCORE', u, 'k')) <= now + 1_000,
      'scored near its deadline, not its absolute one',
    )
    await new Promise((resolve) => setTimeout(resolve, 600))
    assert.deepEqual(await store.listByUser('u'), [])
    // The next write of the set drops it.
    await store.create('k2', record({ userId: 'u' }))
    assert.equal(await command(u, 'ZSCORE', u, 'k'), null)
  })

  it('sizes an empty data text as present: unsetting it or setting over it keeps `z` right', async () => {
    const { client, command } = flavours[0]!
    const prefix = uniquePrefix()
    const store = redisStore({ client, prefix })
    const s = `${prefix}s:k`
    await store.create('k', record({ data: { a: '', b: '' } }))
    assert.equal(await command(s, 'HGET', s, 'z'), '2')
    assert.equal(await store.update('k', { unset: ['a'] }), true)
    assert.equal(await command(s, 'HGET', s, 'z'), '1')
    assert.equal(await store.update('k', { set: { b: '"x"' }, maxBytes: 100 }), true)
    assert.equal(await command(s, 'HGET', s, 'z'), '4')
    // As memoryStore judges it: 4 bytes now, a 3-byte key fits under 7 after unsetting b.
    assert.equal(await store.update('k', { unset: ['b'], set: { c: '"y"' }, maxBytes: 4 }), true)
    assert.equal(await command(s, 'HGET', s, 'z'), '4')
  })

  it('revokes one user among many without a SCAN, in O(that user’s sessions)', async () => {
    const { client, command } = flavours[0]!
    const store = redisStore({ client, prefix: uniquePrefix() })
    const writes: Promise<boolean>[] = []
    for (let u = 0; u < 50; u++) {
      for (let s = 0; s < 4; s++) writes.push(store.create(`u${u}-s${s}`, record({ userId: `user${u}` })))
    }
    await Promise.all(writes)
    await command('', 'CONFIG', 'RESETSTAT')
    assert.equal(await store.destroyByUser('user7', 'u7-s0'), 3)
    assert.deepEqual(
      (await store.listByUser('user7')).map((e) => e.key),
      ['u7-s0'],
    )
    const stats = String(await command('', 'INFO', 'commandstats'))
    assert.doesNotMatch(stats, /cmdstat_(scan|keys):/)
    const calls = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
    // The revoke: one index read, three scripted deletes, one unlisting; then one listing (prune, read, one hash).
    assert.ok(calls('evalsha') + calls('eval') <= 6, stats) // 3, or 6 if the script was not cached yet
    assert.ok(calls('zrange') <= 2 && calls('hgetall') <= 1, stats)
    assert.equal((await store.listByUser('user8')).length, 4)
  })

  it('runs its scripts again after the server forgot them (NOSCRIPT falls back to EVAL)', async () => {
    const { client, command } = flavours[1]!
    const store = redisStore({ client, prefix: uniquePrefix() })
    await store.create('s1', record())
    await command('', 'SCRIPT', 'FLUSH')
    assert.equal(await store.update('s1', { set: { a: '1' } }), true)
    assert.equal((await store.get('s1'))?.data.a, '1')
  })

  it('rejects bad options, naming the option', () => {
    const { client } = flavours[0]!
    const cases: [unknown, string][] = [
      [{ client: {} }, 'client'],
      [{ client: null }, 'client'],
      [{ client, prefix: '' }, 'prefix'],
      [{ client, prefix: 1 }, 'prefix'],
      [{ client, ttl: 1 }, 'ttl'],
      [{ client, prefx: 'x' }, 'prefx'],
      [client, 'options'],
    ]
    for (const [options, name] of cases) {
      assert.throws(
        () => redisStore(options as RedisStoreOptions),
        (err) => err instanceof CoatcheckError && err.code === 'INVALID_OPTION' && err.message.includes(`\`${name}\``),
        name,
      )
    }
  })

  it('says what it takes, and names the fix for a node-redis client that was never connected', async () => {
    const message = (options: unknown) => {
      try {
        redisStore(options as RedisStoreOptions)
      } catch (error) {
        return error instanceof CoatcheckError && error.code === 'INVALID_OPTION' ? error.message : String(error)
      }
    }
    const { client } = flavours[0]!
    assert.match(message(client)!, /redisStore\(\) takes `\{ client \}`: redisStore\(\{ client \}\)/)
    assert.match(message({ client, prefx: 'a:' })!, /did you mean `prefix`\?/)
    const never = createClient({ url: server.url })
    assert.match(
      message({ client: never })!,
      /`client` is a node-redis client that is neither open nor opening; call `await client\.connect\(\)` first/,
    )
    const closed = createClient({ url: server.url })
    await closed.connect()
    await closed.close()
    assert.match(message({ client: closed })!, /call `await client\.connect\(\)` first/)
    // Opening is enough: an app whose Redis is down at start-up must still start (see redis-faults.test.ts).
    const opening = createClient({ url: 'redis://127.0.0.1:1', socket: { reconnectStrategy: false } })
    opening.on('error', () => {})
    opening.connect().catch(() => {})
    assert.equal(message({ client: opening }), undefined)
  })

  it('adds an error listener only to a client that has none', () => {
    const bare = Object.assign(new EventEmitter(), { call: async () => null })
    redisStore({ client: bare })
    assert.equal(bare.listenerCount('error'), 1)
    assert.doesNotThrow(() => bare.emit('error', new Error('ECONNREFUSED')))
    const owned = Object.assign(new EventEmitter(), { call: async () => null })
    const mine = () => {}
    owned.on('error', mine)
    redisStore({ client: owned })
    assert.deepEqual(owned.listeners('error'), [mine])
  })
})

describe('redisStore on a three-master cluster', () => {
  let cluster: RedisCluster
  const flavours: Flavour[] = []
  before(async () => {
    cluster = await startRedisCluster()
    flavours.push(nodeRedisCluster(cluster), ioredisCluster(cluster))
    await (flavours[0]!.client as ReturnType<typeof createCluster>).connect()
  })
  after(async () => {
    await Promise.all(flavours.map((f) => f.close()))
    await cluster?.stop()
  })

  suite('redis cluster, node-redis', () => flavours[0]!)
  suite('redis cluster, ioredis', () => flavours[1]!)

  it('spreads one user’s sessions over every master and still lists and revokes them all', async () => {
    const { client } = flavours[1]!
    const prefix = uniquePrefix()
    const store = redisStore({ client, prefix })
    const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`)
    await Promise.all(keys.map((k) => store.create(k, record({ userId: 'spread' }))))
    const counts = await Promise.all(
      cluster.nodes.map(async (node) => {
        const raw = new Redis(node.port, '127.0.0.1')
        try {
          return (await raw.keys(`${prefix}s:*`)).length
        } finally {
          await raw.quit()
        }
      }),
    )
    assert.ok(
      counts.every((n) => n > 0),
      `session keys on each master: ${counts}`,
    )
    assert.equal((await store.listByUser('spread')).length, keys.length)
    assert.equal(await store.destroyByUser('spread'), keys.length)
    assert.deepEqual(await store.listByUser('spread'), [])
  })
})
