/**
 * Every backend the reliability and property tests run on, each on a real server started on loopback: memory, SQLite
 * (a temp file), Redis (node-redis), Redis Cluster (ioredis `Cluster`, three masters), PostgreSQL (`pg` Pool) and a
 * callback store through the legacy adapter (express-session's own MemoryStore). `open()` gives a fresh, empty store
 * each time (its own prefix, file or tables), so tests never see each other's records.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import expressSession from 'express-session'
import { Cluster } from 'ioredis'
import pg from 'pg'
import { createClient } from 'redis'
import { memoryStore } from '../../src/index.ts'
import { legacyStore } from '../../src/stores/legacy/adapter.ts'
import { postgresStore } from '../../src/stores/postgres/index.ts'
import { redisStore } from '../../src/stores/redis/index.ts'
import { sqliteStore } from '../../src/stores/sqlite/index.ts'
import type { CoatcheckStore, SessionStore } from '../../src/stores/types.ts'
import { type RunningPostgres, startPostgres } from '../support/postgres.ts'
import { type RedisCluster, type RedisServer, startRedis, startRedisCluster } from '../support/redis.ts'

export type BackendName = 'memory' | 'sqlite' | 'redis' | 'redis-cluster' | 'postgres' | 'callback'

export const ALL: readonly BackendName[] = ['memory', 'sqlite', 'redis', 'redis-cluster', 'postgres', 'callback']

export interface Backend {
  name: BackendName
  /**
   * A fresh, empty store. Coatcheck backends give a full store (tokens and counters too); the callback store gives the
   * sessions contract only, as `session()` makes of an express-session store.
   */
  open(): Promise<SessionStore & Partial<CoatcheckStore>>
  /** Keeps remember-me tokens and rate-limit counters (every coatcheck store; not a callback store). */
  complete: boolean
}

export interface Backends {
  list: Backend[]
  get(name: BackendName): Backend
  stop(): Promise<void>
}

/** Starts the servers the named backends need (all of them by default) and resolves the backends. */
export async function startBackends(names: readonly BackendName[] = ALL): Promise<Backends> {
  const cleanup: (() => Promise<unknown> | unknown)[] = []
  const stop = async () => {
    for (const step of cleanup.splice(0).reverse()) await step()
  }
  const list: Backend[] = []
  try {
    for (const name of names) list.push(await start(name, cleanup))
  } catch (error) {
    await stop()
    throw error
  }
  return {
    list,
    get: (name) => {
      const found = list.find((b) => b.name === name)
      if (!found) throw new Error(`backend ${name} was not started`)
      return found
    },
    stop,
  }
}

async function start(name: BackendName, cleanup: (() => unknown)[]): Promise<Backend> {
  const closing = (store: CoatcheckStore) => {
    cleanup.push(() => store.close?.())
    return store
  }
  switch (name) {
    case 'memory':
      return { name, complete: true, open: async () => closing(memoryStore()) }
    case 'sqlite': {
      const dir = mkdtempSync(join(tmpdir(), 'coatcheck-reliability-'))
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
      let files = 0
      return { name, complete: true, open: async () => closing(sqliteStore({ path: join(dir, `${++files}.db`) })) }
    }
    case 'redis': {
      const server: RedisServer = await startRedis()
      cleanup.push(() => server.stop())
      const client = createClient({ url: server.url })
      await client.connect()
      cleanup.push(() => client.close())
      return { name, complete: true, open: async () => redisStore({ client, prefix: `rel:${randomUUID()}:` }) }
    }
    case 'redis-cluster': {
      const cluster: RedisCluster = await startRedisCluster()
      cleanup.push(() => cluster.stop())
      const client = new Cluster(cluster.addresses)
      await new Promise((resolve) => client.once('ready', resolve))
      cleanup.push(() => client.quit())
      return { name, complete: true, open: async () => redisStore({ client, prefix: `rel:${randomUUID()}:` }) }
    }
    case 'postgres': {
      const server: RunningPostgres = await startPostgres()
      cleanup.push(() => server.stop())
      const pool = new pg.Pool({ connectionString: server.connectionString, max: 10 })
      cleanup.push(() => pool.end())
      let tables = 0
      return {
        name,
        complete: true,
        open: async () => closing(await postgresStore({ pool, tablePrefix: `rel${++tables}_`, pruneInterval: 60_000 })),
      }
    }
    case 'callback':
      return { name, complete: false, open: async () => legacyStore(new expressSession.MemoryStore()) }
  }
}
