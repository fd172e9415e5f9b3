import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { createClient } from 'redis'
import { startPostgres } from '../test/support/postgres.ts'
import { startRedis } from '../test/support/redis.ts'

export const BACKENDS = ['memory', 'sqlite', 'redis', 'postgres'] as const
export type Backend = (typeof BACKENDS)[number]

/** Throwaway database servers for one bench run, started here so their CPU can be read apart from the app's. */
export interface Backends {
  /** What a bench server needs to reach `backend`: a URL, a file path, or nothing. */
  where(backend: Backend): string
  /** CPU time (µs) the database server has used so far; 0 for in-process backends. */
  cpu(backend: Backend): Promise<number>
  stop(): Promise<void>
}

/** Starts Redis and PostgreSQL with the test helpers (which install or locate the binaries) and a SQLite file. */
export async function startBackends(): Promise<Backends> {
  const dir = mkdtempSync(join(tmpdir(), 'coatcheck-bench-'))
  const redis = await startRedis()
  const postgres = await startPostgres().catch(async (error) => {
    await redis.stop()
    throw error
  })
  const redisClient = await createClient({ url: redis.url }).connect()
  const pool = new pg.Pool({ connectionString: postgres.connectionString, max: 1 })
  // An idle client told to go by the server's shutdown emits 'error' on the pool; unheard, that kills the process.
  pool.on('error', () => {})
  const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100

  // Redis reports its own process's CPU; PostgreSQL is many processes, whose pids it lists itself.
  async function redisCpu() {
    const info = await redisClient.info('cpu')
    const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0)
    return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6
  }
  async function postgresCpu() {
    const { rows } = await pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity')
    let total = 0
    for (const { pid } of rows) {
      try {
        const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
        total += ((Number(fields[11]) + Number(fields[12])) / ticks) * 1e6
      } catch {
        // The process ended between the query and the read: its CPU is lost to the count, which is small.
      }
    }
    return total
  }

  return {
    where(backend) {
      if (backend === 'sqlite') return join(dir, 'sessions.db')
      if (backend === 'redis') return redis.url
      if (backend === 'postgres') return postgres.connectionString
      return ''
    },
    async cpu(backend) {
      if (backend === 'redis') return redisCpu()
      if (backend === 'postgres') return postgresCpu()
      return 0
    },
    async stop() {
      // The Redis helper unrefs its server process: without a timer this process could exit while waiting for it.
      const alive = setInterval(() => {}, 1000)
      try {
        await redisClient.close().catch(() => {})
        await pool.end().catch(() => {})
        await Promise.all([redis.stop(), postgres.stop()])
        rmSync(dir, { recursive: true, force: true })
      } finally {
        clearInterval(alive)
      }
    },
  }
}
