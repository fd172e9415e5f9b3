import { redisStore } from '../src/stores/redis/index.ts'
import { appArgs, type Backend } from './app-shape.ts'
import { type Backends, startBackends } from './backends.ts'
import { fixed, median, save, table } from './common.ts'
import { loggedIn, measure } from './compare.ts'
import { checkFill, connectRedis, fillRedis } from './fill.ts'
import { drive, type Load } from './load.ts'
import { type Running, start } from './servers.ts'

// Flat in store size (issue 13): the authenticated read with a small store against the same read with a big one,
// per durable backend, in one run. Two coatcheck servers run side by side on one database server, one on a store
// holding SMALL sessions and one on a store holding BIG, each filled in bulk in the store's own layout (`fill.ts`);
// alternated rounds, as the comparison does. Target: the big store's req/s within 10 % of the small one's.

const SMALL = 1000
const BIG = Number(process.env.BENCH_FLAT_SIZE ?? 1_000_000)

/** How a backend gets a small and a big store on one server: where each app points, and how each is filled. */
interface Sized {
  where(size: 'small' | 'big'): string
  fill(size: 'small' | 'big', count: number): Promise<void>
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
  }
}

const SIZED: Partial<Record<Backend, (backends: Backends) => Promise<Sized>>> = { redis: redisSized }
const FLAT_BACKENDS = Object.keys(SIZED) as Backend[]

interface FlatRun {
  backend: Backend
  size: 'small' | 'big'
  sessions: number
  round: number
  reqPerSec: number
  cpuUs: number
  p99Ms: number
  steal: number
}

export async function flat(quick = false): Promise<void> {
  const began = performance.now()
  const wanted = (process.env.BENCH_BACKENDS?.split(',') as Backend[] | undefined) ?? FLAT_BACKENDS
  const chosen = FLAT_BACKENDS.filter((b) => wanted.includes(b))
  const rounds = quick ? 3 : 5
  const seconds = quick ? 1 : 2
  const backends = await startBackends(chosen)
  const runs: FlatRun[] = []
  try {
    for (const backend of chosen) {
      const sized = await SIZED[backend]!(backends)
      const counts = { small: SMALL, big: BIG }
      for (const size of ['small', 'big'] as const) {
        const t = performance.now()
        await sized.fill(size, counts[size])
        console.error(`${backend}: ${counts[size]} sessions filled in ${((performance.now() - t) / 1000).toFixed(1)} s`)
      }
      const servers: Record<'small' | 'big', Running> = {} as never
      try {
        for (const size of ['small', 'big'] as const) {
          const args = appArgs({ variant: 'coatcheck', backend, rolling: false, where: sized.where(size) })
          servers[size] = await start(`coatcheck (${backend}, ${size})`, { file: 'app', args })
        }
        const cookies = { small: await loggedIn(servers.small, 10), big: await loggedIn(servers.big, 10) }
        const load = (size: 'small' | 'big', s: number): Load => ({
          method: 'GET',
          path: '/me',
          cookies: cookies[size],
          connections: 10,
          seconds: s,
        })
        for (const size of ['small', 'big'] as const) await drive(servers[size].url, load(size, seconds))
        for (let round = 0; round < rounds; round++) {
          for (const size of round % 2 === 0 ? (['small', 'big'] as const) : (['big', 'small'] as const)) {
            const run = await measure(backends, backend, 'coatcheck', servers[size], load(size, seconds))
            runs.push({ backend, size, sessions: counts[size], round, ...pick(run) })
            console.error(
              `${backend} ${size} round ${round + 1}: ${Math.round(run.reqPerSec)} req/s, ` +
                `${run.cpuUs.toFixed(1)} µs CPU/req, host steal ${Math.round(run.steal * 100)} %`,
            )
          }
        }
      } finally {
        await Promise.all(Object.values(servers).map((server) => server.stop()))
      }
    }
  } finally {
    await backends.stop()
  }
  const rows = chosen.map((backend) => {
    const of = (size: 'small' | 'big', f: (r: FlatRun) => number) =>
      median(runs.filter((r) => r.backend === backend && r.size === size).map(f))
    const ratio = of('big', (r) => r.reqPerSec) / of('small', (r) => r.reqPerSec)
    return [
      backend,
      fixed(of('small', (r) => r.reqPerSec)),
      fixed(of('big', (r) => r.reqPerSec)),
      `${fixed((ratio - 1) * 100, 1)} %`,
      `${fixed(
        of('small', (r) => r.cpuUs),
        1,
      )} / ${fixed(
        of('big', (r) => r.cpuUs),
        1,
      )}`,
      Math.abs(1 - ratio) <= 0.1 ? 'met' : '**missed**',
    ]
  })
  const head = ['backend', `req/s, ${SMALL} sessions`, `req/s, ${BIG} sessions`, 'change', 'µs CPU/req', '±10 %']
  console.log(`\nAuthenticated read, small store against big, ${rounds} alternated rounds of ${seconds} s:\n`)
  console.log(table(head, rows, ['---', '---:', '---:', '---:', '---:', '---']))
  await save('flat', began, { small: SMALL, big: BIG, rounds, seconds, runs })
}

const pick = (run: Awaited<ReturnType<typeof measure>>) => ({
  reqPerSec: run.reqPerSec,
  cpuUs: run.cpuUs,
  p99Ms: run.p99Ms,
  steal: run.steal,
})
