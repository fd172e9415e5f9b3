/**
 * The Redis store (`coatcheck/redis`): node-redis or ioredis, standalone or cluster; Valkey too. Needs Redis ≥ 7.0.
 *
 * Key layout (`<prefix>` defaults to `coatcheck:`):
 * - `<prefix>s:<key>` — one hash per session: `d:<name>` → the JSON text of each data key, plus `userId` (absent when
 *   none), `meta` (JSON), `createdAt`, `lastSeenAt`, `expiresAt`, `absoluteExpiresAt` (epoch ms). PEXPIREAT `expiresAt`.
 * - `<prefix>u:<userId>` — sorted set of that user's session keys, scored by deadline. Dead members are dropped on
 *   every read and write of the set, and the set expires with its last member.
 * - `<prefix>t:<id>` — one hash per remember-me token: `userId`, `hash`, `createdAt`, `expiresAt`. PEXPIREAT `expiresAt`.
 * - `<prefix>tu:<userId>` — sorted set of that user's token IDs, scored by deadline, kept like `u:`.
 * - `<prefix>c:<key>` — a rate-limit counter: an integer whose TTL is the end of its window.
 *
 * Every command and script touches one key, so everything works on a cluster without hash tags, and a user's index
 * is kept by separate single-key commands next to the record's own script. The index may hold more than the truth,
 * never less where it matters: a login (`update` to a user) is listed before it is written; scores only grow; and a
 * member whose record is gone or belongs to someone else is skipped when listing and never deleted through.
 */
import { invalidOption } from '../../errors.ts'
import type { CoatcheckStore } from '../types.ts'
import { adapt, guardErrors, pairs, type RedisClient, type Script, type Send, script } from './client.ts'
import { deadline, sessionFields, toCounter, toSession, toToken } from './records.ts'
import { CREATE, DESTROY, DESTROY_IF_OWNED, HIT, INDEX, PEEK, ROTATE, UPDATE } from './scripts.ts'

export type { IoredisLike, NodeRedisClientLike, NodeRedisClusterLike, RedisClient } from './client.ts'

/** Options of {@link redisStore}. */
export interface RedisStoreOptions {
  /**
   * A connected node-redis client or cluster (`createClient` / `createCluster`, v5+), or an ioredis `Redis` or
   * `Cluster` (iovalkey works too). Required. The app owns it: the store never connects, quits or closes it. When it
   * has no 'error' listener the store adds one (a Redis restart would otherwise crash the process) that reports the
   * first error as a process warning. While a client that was connected is reconnecting, calls reject at once (a fast
   * 503) rather than wait in the client's offline queue; to fail fast before the first connection too, create it with
   * `disableOfflineQueue: true` (node-redis) or `enableOfflineQueue: false` (ioredis).
   */
  client: RedisClient
  /** Prefix of every key the store writes. Must be a non-empty string. Default `coatcheck:`. */
  prefix?: string
}

const KNOWN = new Set(['client', 'prefix'])

/**
 * A store on Redis: one hash per session with a Redis TTL at its deadline, a sorted set per user for listing and
 * revoking a user's sessions in O(their sessions) — never a SCAN — and the same for remember-me tokens. Redis drops
 * expired records itself, so `prune()` has nothing to do. Client errors reject the call (the engine answers 503).
 */
export function redisStore(options: RedisStoreOptions): CoatcheckStore {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', 'must be an object')
  for (const name of Object.keys(options)) if (!KNOWN.has(name)) throw invalidOption(name, 'is not a known option')
  const { client, prefix = 'coatcheck:' } = options
  if (typeof prefix !== 'string' || prefix === '') throw invalidOption('prefix', 'must be a non-empty string')
  const send = adapt(client)
  guardErrors(client)

  const create = script(send, CREATE)
  const update = script(send, UPDATE)
  const destroy = script(send, DESTROY)
  const destroyIfOwned = script(send, DESTROY_IF_OWNED)
  const rotate = script(send, ROTATE)
  const hit = script(send, HIT)
  const peek = script(send, PEEK)
  const counterKey = (key: string) => `${prefix}c:${key}`
  const sessionKey = (key: string) => `${prefix}s:${key}`
  const sessionIndex = new Index(send, script(send, INDEX), `${prefix}u:`)
  const tokenKey = (id: string) => `${prefix}t:${id}`
  const tokenIndex = new Index(send, script(send, INDEX), `${prefix}tu:`)
  const hgetall = async (key: string) => pairs(await send(key, ['HGETALL', key]))

  /** Deletes each listed record still owned by `userId`, then unlists them; resolves how many were deleted. */
  async function destroyListed(index: Index, keyOf: (member: string) => string, userId: string, members: string[]) {
    const deleted = await Promise.all(members.map((m) => destroyIfOwned.run(keyOf(m), [userId])))
    await index.remove(userId, members)
    return deleted.reduce<number>((sum, n) => sum + Number(n), 0)
  }

  return {
    async get(key) {
      return toSession(await hgetall(sessionKey(key)))
    },
    async create(key, record) {
      const created = await create.run(sessionKey(key), [deadline(record.expiresAt), ...sessionFields(record)])
      if (created !== 1) return false
      if (record.userId !== null) await sessionIndex.add(record.userId, key, record.expiresAt)
      return true
    },
    async update(key, patch) {
      const unset = (patch.unset ?? []).map((name) => `d:${name}`)
      const set = Object.entries(patch.set ?? {}).flatMap(([name, json]) => [`d:${name}`, json])
      if (patch.userId === null) unset.push('userId')
      if (typeof patch.userId === 'string') set.push('userId', patch.userId)
      if (patch.meta !== undefined) set.push('meta', JSON.stringify(patch.meta))
      for (const field of ['lastSeenAt', 'expiresAt', 'absoluteExpiresAt'] as const) {
        if (patch[field] !== undefined) set.push(field, String(patch[field]))
      }
      const at = patch.expiresAt === undefined ? '' : deadline(patch.expiresAt)
      // A login is listed before it is written: a failure in between must not leave a session revoke-all misses.
      const early = typeof patch.userId === 'string' && patch.expiresAt !== undefined
      if (early) await sessionIndex.add(patch.userId!, key, patch.expiresAt!)
      const reply = await update.run(sessionKey(key), [at, unset.length, ...unset, ...set])
      if (!Array.isArray(reply)) {
        if (early) await sessionIndex.remove(patch.userId!, [key])
        return false
      }
      const before = reply[0] === 1 ? String(reply[1]) : null
      const after = patch.userId === undefined ? before : patch.userId
      if (before !== null && before !== after) await sessionIndex.remove(before, [key])
      const relist = after !== before || patch.expiresAt !== undefined
      if (after !== null && relist) await sessionIndex.add(after, key, Number(reply[2]))
      return true
    },
    async touch(key, lastSeenAt, expiresAt) {
      const fields = ['lastSeenAt', String(lastSeenAt), 'expiresAt', String(expiresAt)]
      const reply = await update.run(sessionKey(key), [deadline(expiresAt), 0, ...fields])
      if (!Array.isArray(reply)) return false
      if (reply[0] === 1) await sessionIndex.add(String(reply[1]), key, expiresAt)
      return true
    },
    async destroy(key) {
      const userId = await destroy.run(sessionKey(key), [])
      if (typeof userId === 'string') await sessionIndex.remove(userId, [key])
    },
    async listByUser(userId) {
      const keys = await sessionIndex.live(userId)
      const records = await Promise.all(keys.map(async (key) => toSession(await hgetall(sessionKey(key)))))
      return keys.flatMap((key, i) => {
        const record = records[i]
        return record?.userId === userId ? [{ key, record }] : []
      })
    },
    async destroyByUser(userId, exceptKey) {
      const keys = (await sessionIndex.all(userId)).filter((key) => key !== exceptKey)
      return destroyListed(sessionIndex, sessionKey, userId, keys)
    },
    async prune() {
      return 0
    },
    tokens: {
      async create(id, record) {
        const fields = ['userId', record.userId, 'hash', record.hash]
        fields.push('createdAt', String(record.createdAt), 'expiresAt', String(record.expiresAt))
        if ((await create.run(tokenKey(id), [deadline(record.expiresAt), ...fields])) !== 1) return false
        await tokenIndex.add(record.userId, id, record.expiresAt)
        return true
      },
      async get(id) {
        return toToken(await hgetall(tokenKey(id)))
      },
      async rotate(id, expectedHash, next) {
        const args = [expectedHash, next.hash, String(next.expiresAt), deadline(next.expiresAt)]
        const userId = await rotate.run(tokenKey(id), args)
        if (typeof userId !== 'string') return false
        await tokenIndex.add(userId, id, next.expiresAt)
        return true
      },
      async destroy(id) {
        const userId = await destroy.run(tokenKey(id), [])
        if (typeof userId === 'string') await tokenIndex.remove(userId, [id])
      },
      async destroyByUser(userId) {
        return destroyListed(tokenIndex, tokenKey, userId, await tokenIndex.all(userId))
      },
    },
    counters: {
      async hit(key, windowMs) {
        return toCounter(await hit.run(counterKey(key), [Math.max(1, Math.ceil(windowMs))]))!
      },
      async peek(key) {
        return toCounter(await peek.run(counterKey(key), []))
      },
      async reset(key) {
        await send(counterKey(key), ['DEL', counterKey(key)])
      },
    },
  }
}

/** The per-user sorted sets: member = record key, score = an upper bound of the record's deadline. */
class Index {
  readonly #send: Send
  readonly #add: Script
  readonly #prefix: string

  constructor(send: Send, add: Script, prefix: string) {
    this.#send = send
    this.#add = add
    this.#prefix = prefix
  }

  /** Lists `member` under `userId` until `expiresAt`; a deadline already past lists nothing. */
  async add(userId: string, member: string, expiresAt: number): Promise<void> {
    const now = Date.now()
    if (expiresAt > now) await this.#add.run(this.#prefix + userId, [deadline(expiresAt), member, now])
  }

  /** Unlists `members` (in chunks, so a user with very many records does not make one huge command). */
  async remove(userId: string, members: string[]): Promise<void> {
    const key = this.#prefix + userId
    for (let i = 0; i < members.length; i += 1000) {
      await this.#send(key, ['ZREM', key, ...members.slice(i, i + 1000)])
    }
  }

  /** The members whose deadline has not passed, after dropping the others (prune on read). */
  async live(userId: string): Promise<string[]> {
    const key = this.#prefix + userId
    const now = String(Date.now())
    const [, members] = await Promise.all([
      this.#send(key, ['ZREMRANGEBYSCORE', key, '-inf', now]),
      this.#send(key, ['ZRANGE', key, `(${now}`, '+inf', 'BYSCORE']),
    ])
    return (members as unknown[]).map(String)
  }

  /** Every member, live or not: revoking also removes what may still be there. */
  async all(userId: string): Promise<string[]> {
    const key = this.#prefix + userId
    return ((await this.#send(key, ['ZRANGE', key, '0', '-1'])) as unknown[]).map(String)
  }
}
