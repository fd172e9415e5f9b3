import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { createClient } from 'redis'
import { startPostgres } from '../test/support/postgres.ts'
import { startRedis } from '../test/support/redis.ts'
import type { Backend } from './app-shape.ts'
import { LOAD_CORE, parentOf, pin } from './cores.ts'
import { processCpu } from './cpu.ts'

export { BACKENDS, type Backend } from './app-shape.ts'

/** Throwaway database servers for one bench run, started here so their CPU can be read apart from the app's. */
export interface Backends {
  /** What a bench server needs to reach `backend`: a URL, a file path, or nothing. */
  where(backend: Backend, name?: string): string
  /**
   * Starts a window of the database server's CPU time; the function it resolves ends the window and resolves the
   * µs used in it (0 for in-process backends).
   */
  cpuWindow(backend: Backend): Promise<() => Promise<number>>
  /** Commands the Redis server has processed so far (undefined for the other backends). */
  commands(backend: Backend): Promise<number | undefined>
  /** The servers' versions, for the report. */
  versions: { redis?: string; postgres?: string }
  stop(): Promise<void>
}

/**
 * Starts Redis and PostgreSQL with the test helpers (which install or locate the binaries) when `needed` asks for
 * them, pinned to the load generator's core, and a directory for SQLite files.
 */
export async function startBackends(needed: readonly Backend[]): Promise<Backends> {
  const dir = mkdtempSync(join(tmpdir(), 'coatcheck-bench-'))
  const redis = needed.includes('redis') ? await startRedis() : undefined
  const postgres = needed.includes('postgres')
    ? await startPostgres().catch(async (error) => {
        await redis?.stop()
        throw error
      })
    : undefined
  const redisClient = redis && (await createClient({ url: redis.url }).connect())
  const pool = postgres && new pg.Pool({ connectionString: postgres.connectionString, max: 1 })
  // An idle client told to go by the server's shutdown emits 'error' on the pool; unheard, that kills the process.
  pool?.on('error', () => {})
  const versions: Backends['versions'] = {}

  const info = async (section: string, name: string) => {
    const text = await redisClient!.info(section)
    return new RegExp(`${name}:([^\\r\\n]+)`).exec(text)?.[1] ?? ''
  }
  if (redisClient) {
    versions.redis = await info('server', 'redis_version')
    await pin(Number(await info('server', 'process_id')), LOAD_CORE)
  }
  if (pool) {
    versions.postgres = (await pool.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v
    // New backends are forked by the postmaster and inherit its affinity; the ones already running are pinned here.
    const pids = await postgresPids()
    if (pids.length > 0) await pin(parentOf(pids[0]!), LOAD_CORE)
    for (const pid of pids) await pin(pid, LOAD_CORE).catch(() => {})
  }

  async function postgresPids(): Promise<number[]> {
    const { rows } = await pool!.query<{ pid: number }>('SELECT pid FROM pg_stat_activity')
    return rows.map((r) => r.pid)
  }
  // Redis reports its own process's CPU; PostgreSQL is many processes, whose pids it lists itself.
  async function redisCpu() {
    const cpu = await redisClient!.info('cpu')
    const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(cpu)?.[1] ?? 0)
    return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6
  }
  // Per backend process, so connections that a pool opens or closes during the window neither add nor take away
  // what the others used: a process that ended in the window loses only its own last slice.
  async function postgresCpu(): Promise<Map<number, number>> {
    const used = new Map<number, number>()
    for (const pid of await postgresPids()) {
      try {
        used.set(pid, processCpu(pid).total)
      } catch {
        // The process ended between the query and the read.
      }
    }
    return used
  }

  return {
    versions,
    where(backend, name = 'sessions') {
      if (backend === 'sqlite') return join(dir, `${name}.db`)
      if (backend === 'redis') return redis!.url
      if (backend === 'postgres') return postgres!.connectionString
      return ''
    },
    async cpuWindow(backend) {
      if (backend === 'redis') {
        const before = await redisCpu()
        return async () => (await redisCpu()) - before
      }
      if (backend === 'postgres') {
        const before = await postgresCpu()
        return async () => {
          let used = 0
          for (const [pid, total] of await postgresCpu()) used += total - (before.get(pid) ?? 0)
          return used
        }
      }
      return async () => 0
    },
    async commands(backend) {
      return backend === 'redis' ? Number(await info('stats', 'total_commands_processed')) : undefined
    },
    async stop() {
      // The Redis helper unrefs its server process: without a timer this process could exit while waiting for it.
      const alive = setInterval(() => {}, 1000)
      try {
        await redisClient?.close().catch(() => {})
        await pool?.end().catch(() => {})
        await Promise.all([redis?.stop(), postgres?.stop()])
        rmSync(dir, { recursive: true, force: true })
      } finally {
        clearInterval(alive)
      }
    },
  }
}
