import pg from 'pg'
import { postgresStore } from '../src/stores/postgres/index.ts'
import { redisStore } from '../src/stores/redis/index.ts'
import type { CoatcheckStore } from '../src/stores/types.ts'
import { startPostgres } from '../test/support/postgres.ts'
import { startRedis } from '../test/support/redis.ts'
import { fixed, median, percentile, save, table } from './common.ts'
import {
  checkFill,
  connectRedis,
  fillLegacy,
  fillPostgres,
  fillRedis,
  legacyJson,
  PER_USER,
  type Redis,
  record,
} from './fill.ts'

// Revoke-all-of-one-user latency as the store grows: coatcheck's per-user index on Redis and PostgreSQL against the
// SCAN over every session that connect-redis's layout (`sess:<id>` JSON strings) leaves as the only way. In-process,
// through the store API; no HTTP.

const TARGET = 'target'

interface Timing {
  method: 'coatcheck redis' | 'coatcheck postgres' | 'connect-redis SCAN'
  sessions: number
  reps: number
  medianMs: number
  p95Ms: number
}

const list = (name: string, fallback: string) => (process.env[name] ?? fallback).split(',').map(Number)

/** `store.destroyByUser` of a user with 5 sessions, re-created through `create` before every repetition. */
async function timeRevoke(store: CoatcheckStore, reps: number): Promise<number[]> {
  const times: number[] = []
  for (let rep = -5; rep < reps; rep++) {
    for (let j = 0; j < PER_USER; j++) await store.create(`${TARGET}-${rep}-${j}`, record(TARGET))
    const began = performance.now()
    const removed = await store.destroyByUser(TARGET)
    const ms = performance.now() - began
    if (removed !== PER_USER) throw new Error(`destroyByUser removed ${removed} sessions, expected ${PER_USER}`)
    if (rep >= 0) times.push(ms)
  }
  if ((await store.listByUser(TARGET)).length > 0) throw new Error('sessions of the revoked user are still listed')
  return times
}

/** What revoke-all costs with connect-redis: SCAN `sess:*` (its scanCount, 100), MGET each batch, parse, DEL. */
async function timeScan(client: Redis, reps: number): Promise<number[]> {
  const times: number[] = []
  for (let rep = 0; rep < reps; rep++) {
    for (let j = 0; j < PER_USER; j++) {
      await client.sendCommand(['SET', `sess:${TARGET}-${rep}-${j}`, legacyJson(TARGET), 'EX', '86400'])
    }
    const began = performance.now()
    const doomed: string[] = []
    for await (const keys of client.scanIterator({ MATCH: 'sess:*', COUNT: 100 })) {
      if (keys.length === 0) continue
      const values = await client.mGet(keys)
      values.forEach((json, i) => {
        if (json !== null && (JSON.parse(json) as { userId?: string }).userId === TARGET) doomed.push(keys[i]!)
      })
    }
    const removed = doomed.length === 0 ? 0 : await client.del(doomed)
    times.push(performance.now() - began)
    if (removed !== PER_USER) throw new Error(`the SCAN revoke removed ${removed} sessions, expected ${PER_USER}`)
  }
  return times
}

const timing = (method: Timing['method'], sessions: number, times: number[]): Timing => ({
  method,
  sessions,
  reps: times.length,
  medianMs: median(times),
  p95Ms: percentile(times, 95),
})

/** The revoke benchmark; writes `results/revoke.json`. */
export async function revoke(): Promise<void> {
  const sizes = list('BENCH_REVOKE_SIZES', '10000,100000,1000000')
  const [reps = 50, scanReps = 3] = list('BENCH_REVOKE_REPS', '50,3')
  const began = performance.now()
  const redis = await startRedis()
  const postgres = await startPostgres()
  const alive = setInterval(() => {}, 1000) // the Redis helper unrefs its server; see Backends.stop
  const client = await connectRedis(redis.url)
  const legacy = await connectRedis(redis.url, 1)
  const pool = new pg.Pool({ connectionString: postgres.connectionString, max: 4 })
  const timings: Timing[] = []
  const fills: Record<string, number | string>[] = []
  try {
    const stores = { redis: redisStore({ client }), postgres: await postgresStore({ pool }) }
    let filled = 0
    for (const size of sizes) {
      const fill = { sessions: size } as Record<string, number | string>
      const clock = async (name: string, work: () => Promise<void>) => {
        const t = performance.now()
        await work()
        fill[`${name}Seconds`] = (performance.now() - t) / 1000
      }
      await clock('redis', () => fillRedis(client, 'coatcheck:', filled, size))
      await clock('postgres', () => fillPostgres(pool, '"coatcheck_sessions"', filled, size))
      await clock('legacy', () => fillLegacy(legacy, filled, size))
      filled = size
      await checkFill(stores.redis, size)
      await checkFill(stores.postgres, size)
      fill.redisMemory = /used_memory_human:(\S+)/.exec(await client.info('memory'))?.[1] ?? '?'
      const { rows } = await pool.query(`SELECT pg_size_pretty(pg_total_relation_size('coatcheck_sessions')) AS s`)
      fill.postgresSize = String(rows[0]?.s)
      fills.push(fill)
      console.error(`filled ${size}: ${JSON.stringify(fill)}`)

      for (const [name, store] of Object.entries(stores)) {
        const t = timing(`coatcheck ${name as 'redis' | 'postgres'}`, size, await timeRevoke(store, reps))
        timings.push(t)
        console.error(`${t.method} at ${size}: median ${t.medianMs.toFixed(3)} ms, p95 ${t.p95Ms.toFixed(3)} ms`)
      }
      const t = timing('connect-redis SCAN', size, await timeScan(legacy, scanReps))
      timings.push(t)
      console.error(`${t.method} at ${size}: median ${t.medianMs.toFixed(1)} ms over ${t.reps}`)
    }
    await stores.postgres.close()
  } finally {
    await client.close().catch(() => {})
    await legacy.close().catch(() => {})
    await pool.end().catch(() => {})
    await Promise.all([redis.stop(), postgres.stop()])
    clearInterval(alive)
  }
  const goals = render(sizes, timings, fills, reps)
  await save('revoke', began, { sizes, reps, scanReps, fills, timings, targets: goals })
}

function render(sizes: number[], timings: Timing[], fills: Record<string, number | string>[], reps: number) {
  const of = (method: Timing['method'], size: number) =>
    timings.find((t) => t.method === method && t.sessions === size)!
  const ms = (t: Timing, digits: number) => `${fixed(t.medianMs, digits)} / ${fixed(t.p95Ms, digits)}`
  const rows = sizes.map((size) => {
    const r = of('coatcheck redis', size)
    const p = of('coatcheck postgres', size)
    const s = of('connect-redis SCAN', size)
    return [
      size.toLocaleString('en'),
      ms(r, 3),
      ms(p, 3),
      `${fixed(s.medianMs, 1)} (${s.reps})`,
      `${fixed(s.medianMs / r.medianMs)}x`,
    ]
  })
  const head = ['sessions stored', 'coatcheck Redis ms (median / p95)', 'coatcheck PostgreSQL ms (median / p95)']
  head.push('connect-redis SCAN ms (median, reps)', 'SCAN ÷ coatcheck Redis')
  console.log(
    `\nRevoke all sessions of one user who has ${PER_USER}; coatcheck over ${reps} repetitions (+5 discarded).\n`,
  )
  console.log(table(head, rows))
  const fillRows = fills.map((f) => [
    Number(f.sessions).toLocaleString('en'),
    fixed(Number(f.redisSeconds), 1),
    fixed(Number(f.postgresSeconds), 1),
    fixed(Number(f.legacySeconds), 1),
    String(f.redisMemory),
    String(f.postgresSize),
  ])
  console.log('\nFilling (seconds for the sessions added at this step; sizes for everything stored):\n')
  const fillHead = ['sessions', 'Redis fill s', 'PostgreSQL fill s', 'connect-redis fill s', 'Redis memory (both)']
  console.log(table([...fillHead, 'PostgreSQL table'], fillRows))

  const largest = sizes.at(-1)!
  const goals = (['coatcheck redis', 'coatcheck postgres'] as const).map((method) => {
    const first = of(method, sizes[0]!)
    const last = of(method, largest)
    const flat = last.medianMs <= 2 * first.medianMs
    return {
      goal: `${method}: median < 2 ms at ${largest} and flat`,
      got: last.medianMs,
      flat,
      met: last.medianMs < 2 && flat,
    }
  })
  console.log('\nTargets:')
  for (const g of goals) {
    console.log(
      `- ${g.goal}: ${g.got.toFixed(3)} ms, ${g.flat ? 'flat' : 'NOT flat'} (≤ 2x the smallest size) — ${g.met ? 'met' : 'MISSED'}`,
    )
  }
  return goals
}
