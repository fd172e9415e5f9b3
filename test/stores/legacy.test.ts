import { randomUUID } from 'node:crypto'
import { after, before, describe } from 'node:test'
import { RedisStore } from 'connect-redis'
import session from 'express-session'
import { createClient } from 'redis'
import { type LegacyStore, legacyStore } from '../../src/stores/legacy/adapter.ts'
import { type RedisServer, startRedis } from '../support/redis.ts'
import { sessionConformance } from './conformance/index.ts'
import { documentRows, rowStore, sqliteRows, synchronousStore } from './legacy/stores.ts'

// The sessions part of the contract, through the legacy adapter over real express-session stores and a few shapes of
// callback store. Callback stores expire records themselves (the adapter's prune is 0), hence `expiresOnItsOwn`.
const targets: [string, () => LegacyStore][] = [
  ["express-session's MemoryStore", () => new session.MemoryStore() as unknown as LegacyStore],
  ['a synchronous callback store', synchronousStore],
  ['a store whose all() answers better-sqlite3-session-store rows', () => rowStore(sqliteRows)],
  ['a store whose all() answers document rows', () => rowStore(documentRows)],
]
for (const [name, make] of targets) {
  sessionConformance({
    name: `legacy adapter over ${name}`,
    open: async () => legacyStore(make()),
    expiresOnItsOwn: true,
  })
}

describe('legacy adapter over connect-redis 10 (real redis-server, node-redis)', () => {
  let redis: RedisServer
  let client: ReturnType<typeof createClient>
  before(async () => {
    redis = await startRedis()
    client = createClient({ url: redis.url })
    await client.connect()
  })
  after(async () => {
    await client?.close()
    await redis?.stop()
  })

  sessionConformance({
    name: 'connect-redis',
    open: async () =>
      legacyStore(new RedisStore({ client, prefix: `sess-${randomUUID()}:` }) as unknown as LegacyStore),
    expiresOnItsOwn: true,
  })
})
