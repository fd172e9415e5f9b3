import { redisStore } from '../src/stores/redis/index.ts'
import { appArgs, type Backend } from './app-shape.ts'
import { type Backends, startBackends } from './backends.ts'
import { fixed, median, save, table } from './common.ts'
import { loggedIn, measure } from './compare.ts'
import { checkFill, connectRedis, fillRedis } from './fill.ts'
import { postgresSized } from './flat-postgres.ts'
import { sqliteSized } from './flat-sqlite.ts'
import { drive, type Load } from './load.ts'
import { type Running, start } from './servers.ts'

// Flat in store size (issue 13): the authenticated read with a small store against the same read with a big one,
// per durable backend, in one run. Two coatcheck servers run side by side on one database server (or directory), one
// on a store holding SMALL sessions and one on a store holding BIG, each filled in bulk in the store's own layout;
// alternated rounds, as the comparison does. Target: the big store's req/s within 10 % of the small one's.
// `npm run bench -- flat`; `BENCH_FLAT_SIZE` sets BIG, `BENCH_BACKENDS` picks from redis, postgres, sqlite.

const SMALL = 1000
const BIG = Number(process.env.BENCH_FLAT_SIZE ?? 1_000_000)
const CONNECTIONS = 10

export type Size = 'small' | 'big'

/** How a backend gets a small and a big store side by side: where each app points, and how each is filled. */
export interface Sized {
  where(size: Size): string
  /** Fills the store with `count` sessions in its own layout, and checks that the store reads one back. */
  fill(size: Size, count: number): Promise<void>
  /** The read's plan (and the store's size) for the report, where the backend can say. */
  explain?(size: Size): string | Promise<string>
}

async function redisSized(backends: Backends): Promise<Sized> {
  const url = backends.where('redis')
  // Two logical databases of one server: the same process and memory, a different keyspace size.
  const database = { small: 0, big: 1 }
  return {
    where: (size) => `${url}/${database[size]}`,
    async fill(size, count) {
      const client = await connectRedis(url, database[size])
      try {
        await fillRedis(client, 'coatcheck:', 0, count)
        await checkFill(redisStore({ client }), count)
      } finally {
        await client.close()
      }
    },
    async explain(size) {
      const client = await connectRedis(url, database[size])
      try {
        const memory = /used_memory_human:(\S+)/.exec(await client.info('memory'))?.[1]
        return `${await client.dbSize()} keys; the server's memory, both databases: ${memory}`
      } finally {
        await client.close()
      }
    },
  }
}

const SIZED: Record<'redis' | 'postgres' | 'sqlite', (backends: Backends) => Promise<Sized>> = {
  redis: redisSized,
  postgres: postgresSized,
  sqlite: sqliteSized,
}
const FLAT_BACKENDS = Object.keys(SIZED) as (keyof typeof SIZED)[]

interface FlatRun {
  backend: Backend
  size: Size
  round: number
  reqPerSec: number
  cpuUs: number
  dbCpuUs?: number
  p99Ms: number
  steal: number
}

export async function flat(quick = false): Promise<void> {
  const began = performance.now()
  const wanted = process.env.BENCH_BACKENDS?.split(',')
  const chosen = FLAT_BACKENDS.filter((b) => wanted?.includes(b) ?? true)
  const rounds = quick ? 3 : 7
  const seconds = quick ? 1 : 2
  const counts = { small: SMALL, big: BIG }
  const backends = await startBackends(chosen)
  const runs: FlatRun[] = []
  const plans: Record<string, string> = {}
  try {
    for (const backend of chosen) {
      const sized = await SIZED[backend](backends)
      for (const size of ['small', 'big'] as const) {
        const t = performance.now()
        await sized.fill(size, counts[size])
        console.error(`${backend}: ${counts[size]} sessions filled in ${((performance.now() - t) / 1000).toFixed(1)} s`)
      }
      const servers: Partial<Record<Size, Running>> = {}
      try {
        for (const size of ['small', 'big'] as const) {
          const args = appArgs({ variant: 'coatcheck', backend, rolling: false, where: sized.where(size) })
          servers[size] = await start(`coatcheck (${backend}, ${size})`, { file: 'app', args })
        }
        const cookies = {
          small: await loggedIn(servers.small!, CONNECTIONS),
          big: await loggedIn(servers.big!, CONNECTIONS),
        }
        const load = (size: Size, s: number): Load => ({
          method: 'GET',
          path: '/me',
          cookies: cookies[size],
          connections: CONNECTIONS,
          seconds: s,
        })
        for (const size of ['small', 'big'] as const) await drive(servers[size]!.url, load(size, seconds))
        for (let round = 0; round < rounds; round++) {
          for (const size of round % 2 === 0 ? (['small', 'big'] as const) : (['big', 'small'] as const)) {
            const run = await measure(backends, backend, 'coatcheck', servers[size]!, load(size, seconds))
            const { reqPerSec, cpuUs, dbCpuUs, p99Ms, steal } = run
            runs.push({
              backend,
              size,
              round,
              reqPerSec,
              cpuUs,
              ...(dbCpuUs !== undefined && { dbCpuUs }),
              p99Ms,
              steal,
            })
            console.error(
              `${backend} ${size} round ${round + 1}: ${Math.round(reqPerSec)} req/s, ${cpuUs.toFixed(1)} µs CPU/req, ` +
                `host steal ${Math.round(steal * 100)} %`,
            )
          }
        }
        for (const size of ['small', 'big'] as const) {
          if (sized.explain) plans[`${backend} ${size}`] = await sized.explain(size)
        }
      } finally {
        await Promise.all(Object.values(servers).map((server) => server.stop()))
      }
    }
  } finally {
    await backends.stop()
  }
  console.log(
    `\nAuthenticated read, ${SMALL} against ${BIG} stored sessions, ${rounds} alternated rounds of ${seconds} s:\n`,
  )
  console.log(report(chosen, runs))
  for (const [which, plan] of Object.entries(plans)) console.log(`- ${which}: ${plan}`)
  await save('flat', began, { small: SMALL, big: BIG, rounds, seconds, runs, plans })
}

function report(chosen: Backend[], runs: FlatRun[]): string {
  const rows = chosen.flatMap((backend) => {
    const own = (size: Size) => runs.filter((r) => r.backend === backend && r.size === size)
    const of = (size: Size, f: (r: FlatRun) => number | undefined) => {
      const values = own(size)
        .map(f)
        .filter((v) => v !== undefined)
      return values.length > 0 ? median(values) : undefined
    }
    const spread = (size: Size) => {
      const rates = own(size).map((r) => r.reqPerSec)
      return (Math.max(...rates) - Math.min(...rates)) / median(rates)
    }
    const ratio = of('big', (r) => r.reqPerSec)! / of('small', (r) => r.reqPerSec)!
    const verdict = `${fixed((ratio - 1) * 100, 1)} %, ${Math.abs(1 - ratio) <= 0.1 ? 'met' : '**missed**'}`
    return (['small', 'big'] as const).map((size) => [
      backend,
      String(size === 'small' ? SMALL : BIG),
      fixed(of(size, (r) => r.reqPerSec)),
      fixed(
        of(size, (r) => r.cpuUs),
        1,
      ),
      fixed(
        of(size, (r) => r.dbCpuUs),
        1,
      ),
      fixed(
        of(size, (r) => r.p99Ms),
        2,
      ),
      `${fixed(spread(size) * 100)} %`,
      `${fixed(of(size, (r) => r.steal)! * 100)} %`,
      size === 'big' ? verdict : '',
    ])
  })
  const head = [
    'backend',
    'sessions',
    'req/s',
    'µs CPU/req',
    'database µs/req',
    'p99 ms',
    'spread',
    'steal',
    'big vs small (±10 %)',
  ]
  return table(head, rows, ['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---'])
}
