/**
 * The Redis store (`coatcheck/redis`): node-redis or ioredis, standalone or cluster; Valkey too. Needs Redis ≥ 7.0.
 *
 * Key layout (`<prefix>` defaults to `coatcheck:`):
 * - `<prefix>s:<key>` — one hash per session: `d:<name>` → the JSON text of each data key, plus `userId` (absent when
 *   none), `meta` (JSON), `createdAt`, `lastSeenAt`, `expiresAt`, `absoluteExpiresAt` (epoch ms), `z`, the data's
 *   size in bytes (absent in hashes written before it; sized on their first bounded write), and with a user `i`, the
 *   score the user's index is known to hold for it (absent in older hashes). PEXPIREAT `expiresAt`.
 * - `<prefix>u:<userId>` — sorted set of that user's session keys, scored by an upper bound of each one's deadline
 *   with room to slide (`indexScore`: about two idle timeouts, capped at the absolute deadline), so most touches and
 *   writes leave the index alone. Dead members are dropped on every write of the set, skipped on every read, and the set expires with its
 *   last member (no TTL at all under an evicting `maxmemory-policy`: see `policy.ts`).
 * - `<prefix>t:<id>` — one hash per remember-me token: `userId`, `hash`, `meta` (JSON), `createdAt`, `expiresAt`,
 *   and once rotated `previousHash` and `rotatedAt` (absent while null). PEXPIREAT `expiresAt`.
 * - `<prefix>tu:<userId>` — sorted set of that user's token IDs, scored by deadline, kept like `u:`.
 * - `<prefix>c:<key>` — a rate-limit counter: an integer whose TTL is the end of its window.
 *
 * Every command and script touches one key, so everything works on a cluster without hash tags, and a user's index
 * is kept by separate single-key commands next to the record's own script. The index may hold more than the truth,
 * never less where it matters: a session or token (whose user is set once, at create) is listed before it is written;
 * scores only grow; revocation goes through every member, whatever its score; and a member whose record is gone or
 * belongs to someone else is skipped when listing and never deleted through. One gap remains, for tokens and for a
 * session whose deadline moves past its `i` (a hash from before `i`, or a deadline past the absolute one): the new
 * deadline is written to the hash first and to the index right after, so a failure in between leaves the index's
 * score short (the session's `i` is raised only after the index, so its next write tries again); a listing after that
 * score drops the member, and a later revocation misses the record until it expires.
 */
import { invalidOption } from '../../errors.ts'
import { knownKeys } from '../../validate.ts'
import { tooLarge } from '../size.ts'
import type { CoatcheckStore } from '../types.ts'
import { adapt, guardErrors, pairs, type RedisClient, script } from './client.ts'
import { EvictionPolicy } from './policy.ts'
import { deadline, indexScore, sessionFields, toCounter, tokenFields, toSession, toToken } from './records.ts'
import { CREATE, DESTROY, DESTROY_IF_OWNED, HIT, INDEX, INDEXED, PEEK, ROTATE, UPDATE } from './scripts.ts'
import { Index } from './users.ts'

export type {
  IoredisLike,
  NodeRedisClientLike,
  NodeRedisClusterLike,
  NodeRedisSentinelLike,
  RedisClient,
} from './client.ts'

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

/**
 * A store on Redis: one hash per session with a Redis TTL at its deadline, a sorted set per user for listing and
 * revoking a user's sessions in O(their sessions) — never a SCAN — and the same for remember-me tokens. Redis drops
 * expired records itself, so `prune()` has nothing to do. Client errors reject the call (the engine answers 503).
 *
 * The store is ready at once, but its first call first reads the server's `maxmemory-policy` (see `policy.ts`): on
 * a Redis that may evict any key (`allkeys-*`) every call rejects with `STORE_UNSUPPORTED`, naming the fix.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis'
 * import { redisStore } from 'coatcheck/redis'
 * const client = createClient({ url: process.env.REDIS_URL })
 * await client.connect()
 * app.use(session({ secret, store: redisStore({ client }) }))
 * ```
 */
export function redisStore(options: RedisStoreOptions): CoatcheckStore {
  if (typeof options === 'object' && options !== null && !('client' in options) && isClient(options)) {
    throw invalidOption('options', 'of redisStore() takes `{ client }`: redisStore({ client })')
  }
  knownKeys('redisStore()', options, ['client', 'prefix'])
  const { client, prefix = 'coatcheck:' } = options ?? ({} as RedisStoreOptions)
  if (typeof prefix !== 'string' || prefix === '') throw invalidOption('prefix', 'must be a non-empty string')
  const raw = adapt(client)
  guardErrors(client)
  const policy = new EvictionPolicy(raw)
  const send = policy.gate(raw)

  const create = script(send, CREATE)
  const update = script(send, UPDATE)
  const indexed = script(send, INDEXED)
  const destroy = script(send, DESTROY)
  const destroyIfOwned = script(send, DESTROY_IF_OWNED)
  const rotate = script(send, ROTATE)
  const hit = script(send, HIT)
  const peek = script(send, PEEK)
  const counterKey = (key: string) => `${prefix}c:${key}`
  const sessionKey = (key: string) => `${prefix}s:${key}`
  const sessionIndex = new Index(send, script(send, INDEX), `${prefix}u:`, policy)
  const tokenKey = (id: string) => `${prefix}t:${id}`
  const tokenIndex = new Index(send, script(send, INDEX), `${prefix}tu:`, policy)
  const hgetall = async (key: string) => pairs(await send(key, ['HGETALL', key]))

  /**
   * After an update whose deadline went past the score the user's index holds (the script said so: `{ 1, user,
   * absolute deadline }`), lists the session further, then records the new score in the hash; in that order, so a
   * failure in between leaves `i` low and the next write tries again.
   */
  async function relist(key: string, reply: unknown[], expiresAt: number | undefined): Promise<void> {
    if (Number(reply[0]) !== 1 || expiresAt === undefined) return
    const score = indexScore({ expiresAt, absoluteExpiresAt: Number(reply[2]) }, Date.now())
    await sessionIndex.add(String(reply[1]), key, score)
    await indexed.run(sessionKey(key), [deadline(score)])
  }

  /**
   * Deletes each listed record still owned by `userId`, then unlists the ones it deleted; resolves how many. A member
   * whose record is not there stays listed: it may be a create in flight (listed before it is written), which must
   * stay revocable once written; a dead one is dropped once its score passes.
   */
  async function destroyListed(index: Index, keyOf: (member: string) => string, userId: string, members: string[]) {
    const deleted = await Promise.all(members.map((m) => destroyIfOwned.run(keyOf(m), [userId])))
    await index.remove(
      userId,
      members.filter((_, i) => Number(deleted[i]) === 1),
    )
    return deleted.reduce<number>((sum, n) => sum + Number(n), 0)
  }

  /** The live members of a user's index whose record is still there and still that user's, with their records. */
  async function listed<R extends { userId: string | null }>(
    index: Index,
    userId: string,
    read: (member: string) => Promise<R | undefined>,
  ): Promise<{ id: string; record: R }[]> {
    const members = await index.live(userId)
    const records = await Promise.all(members.map(read))
    return members.flatMap((id, i) => {
      const record = records[i]
      return record?.userId === userId ? [{ id, record }] : []
    })
  }

  return {
    async get(key) {
      return toSession(await hgetall(sessionKey(key)))
    },
    async create(key, record) {
      // Listed before it is written: a failure in between must not leave a session that revoke-all misses. A stale
      // entry left by a create that found the key taken is harmless (see above).
      const score = indexScore(record, Date.now())
      if (record.userId !== null) await sessionIndex.add(record.userId, key, score)
      return (await create.run(sessionKey(key), [deadline(record.expiresAt), ...sessionFields(record, score)])) === 1
    },
    async update(key, patch) {
      const unset = (patch.unset ?? []).map((name) => `d:${name}`)
      const set = Object.entries(patch.set ?? {}).flatMap(([name, json]) => [`d:${name}`, json])
      if (patch.meta !== undefined) set.push('meta', JSON.stringify(patch.meta))
      if (patch.lastSeenAt !== undefined) set.push('lastSeenAt', String(patch.lastSeenAt))
      if (patch.expiresAt !== undefined) set.push('expiresAt', String(patch.expiresAt))
      const at = patch.expiresAt === undefined ? '' : deadline(patch.expiresAt)
      // Only a patch that sets keys can grow the data past its bound (the script then checks the size it keeps).
      const max = patch.set === undefined || patch.maxBytes === undefined ? '' : patch.maxBytes
      const args = [at, max, unset.length, ...unset, ...set]
      const reply = await update.run(sessionKey(key), args)
      if (!Array.isArray(reply)) return false
      if (Number(reply[0]) === -1) throw tooLarge(Number(reply[1]), patch.maxBytes!)
      await relist(key, reply, patch.expiresAt)
      return true
    },
    async touch(key, lastSeenAt, expiresAt) {
      const fields = ['lastSeenAt', String(lastSeenAt), 'expiresAt', String(expiresAt)]
      const reply = await update.run(sessionKey(key), [deadline(expiresAt), '', 0, ...fields])
      if (!Array.isArray(reply)) return false
      await relist(key, reply, expiresAt)
      return true
    },
    async destroy(key) {
      const [deleted, hasUser, userId] = (await destroy.run(sessionKey(key), [])) as unknown[]
      if (Number(hasUser) === 1) await sessionIndex.remove(String(userId), [key])
      return Number(deleted) === 1
    },
    async listByUser(userId) {
      const entries = await listed(sessionIndex, userId, async (key) => toSession(await hgetall(sessionKey(key))))
      return entries.map(({ id, record }) => ({ key: id, record }))
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
        // Listed first, as a session is: theft detection revokes through the index.
        await tokenIndex.add(record.userId, id, record.expiresAt)
        return (await create.run(tokenKey(id), [deadline(record.expiresAt), ...tokenFields(record)])) === 1
      },
      async get(id) {
        return toToken(await hgetall(tokenKey(id)))
      },
      async rotate(id, expectedHash, next) {
        const meta = next.meta === undefined ? '' : JSON.stringify(next.meta)
        const at = [String(next.expiresAt), deadline(next.expiresAt), String(next.rotatedAt)]
        const userId = await rotate.run(tokenKey(id), [expectedHash, next.hash, ...at, meta])
        if (typeof userId !== 'string') return false
        await tokenIndex.add(userId, id, next.expiresAt)
        return true
      },
      async destroy(id) {
        const [, hasUser, userId] = (await destroy.run(tokenKey(id), [])) as unknown[]
        if (Number(hasUser) === 1) await tokenIndex.remove(String(userId), [id])
      },
      async listByUser(userId) {
        return listed(tokenIndex, userId, async (id) => toToken(await hgetall(tokenKey(id))))
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

function isClient(value: object): boolean {
  const v = value as Record<string, unknown>
  return typeof v.call === 'function' || typeof v.sendCommand === 'function'
}
