import { availableParallelism } from 'node:os'
import { BACKENDS, type Backend, type Backends, startBackends } from './backends.ts'
import { fixed, save, seconds, table } from './common.ts'
import { type LoadSettings, type Measurement, measure, type Target, warm } from './load.ts'
import { EXPECTED_BODY, OK_BODY } from './servers/serve.ts'
import { type Running, start } from './servers.ts'

// Authenticated read, one-key write and session create through the real middleware, per backend, with express-session
// as the anchor where it has the same backend (its MemoryStore; connect-redis). Both servers of a backend run side by
// side and each operation is measured A B B A, so slow drift of a shared 2-core machine cancels out of the ratios.

type Impl = 'coatcheck' | 'express-session'
const IMPLS: Record<Backend, Impl[]> = {
  memory: ['express-session', 'coatcheck'],
  sqlite: ['coatcheck'],
  redis: ['express-session', 'coatcheck'],
  postgres: ['coatcheck'],
}
// Creates go last: with coatcheck's memory store (10 000 sessions by default) they evict the logged-in sessions.
const OPERATIONS = ['read', 'write', 'create'] as const
type Operation = (typeof OPERATIONS)[number]
// Rounds further apart than this mean something else was using the CPU.
const NOISY = 0.2

interface Run extends Measurement {
  backend: Backend
  impl: Impl
  operation: Operation
}

/** The mean of one server's rounds for one operation. */
interface Summary {
  backend: Backend
  impl: Impl
  operation: Operation
  reqPerSec: number
  cpuUsPerRequest: number
  dbCpuUsPerRequest: number | undefined
  /** How far apart the rounds' req/s are, as a fraction of their mean. */
  spread: number
}

function target(operation: Operation, cookies: string[]): Target {
  if (operation === 'read') return { cookies, expectBody: EXPECTED_BODY }
  if (operation === 'write') return { method: 'POST', path: '/visit', cookies, expectBody: OK_BODY }
  return { method: 'POST', path: '/cart', expectBody: OK_BODY }
}

/** One logged-in session per connection; checks that a write lands and that a cookieless request creates one. */
async function sessions(server: Running, count: number): Promise<string[]> {
  const cookies: string[] = []
  for (let i = 0; i < count; i++) {
    const login = await fetch(`${server.url}/login`, { method: 'POST' })
    const setCookie = login.headers.getSetCookie()[0]
    if (!login.ok || setCookie === undefined) throw new Error(`${server.name}: login answered ${login.status}`)
    cookies.push(setCookie.split(';', 1)[0]!)
  }
  const headers = { cookie: cookies[0]! }
  for (let i = 0; i < 2; i++) await fetch(`${server.url}/visit`, { method: 'POST', headers })
  const visits = await (await fetch(`${server.url}/visits`, { headers })).text()
  if (visits !== JSON.stringify({ visits: 2 })) throw new Error(`${server.name}: two writes read back as ${visits}`)
  const created = await fetch(`${server.url}/cart`, { method: 'POST' })
  if (!created.ok || created.headers.getSetCookie().length === 0) {
    throw new Error(`${server.name}: a cookieless write answered ${created.status} without a new session`)
  }
  return cookies
}

async function measureBackend(backends: Backends, backend: Backend, settings: LoadSettings): Promise<Run[]> {
  const db = backend === 'redis' || backend === 'postgres' ? () => backends.cpu(backend) : undefined
  const servers: [Impl, Running][] = []
  try {
    for (const impl of IMPLS[backend]) {
      const args = [impl, backend, backends.where(backend)]
      servers.push([impl, await start(`${impl} (${backend})`, { file: 'stores', args })])
    }
    // A fresh process runs its first few thousand requests far slower (JIT tiers, the database's cold caches and
    // connection setup): one warm-up pass over every operation first, or the first operation measured pays for all.
    const cookies = new Map<Impl, string[]>()
    for (const [impl, server] of servers) {
      const early = await sessions(server, settings.connections)
      for (const operation of OPERATIONS) await warm(server, target(operation, early), settings)
      // Fresh logins: the warm-up's creates may have evicted the first ones.
      cookies.set(impl, await sessions(server, settings.connections))
    }
    const runs: Run[] = []
    for (const operation of OPERATIONS) {
      for (const [impl, server] of [...servers, ...[...servers].reverse()]) {
        const run = await measure(server, target(operation, cookies.get(impl)!), settings, db)
        runs.push({ ...run, backend, impl, operation })
        const inDb =
          run.dbCpuUsPerRequest === undefined ? '' : ` + ${run.dbCpuUsPerRequest.toFixed(1)} µs in ${backend}`
        console.error(
          `${server.name} ${operation}: ${Math.round(run.reqPerSec)} req/s, ` +
            `${run.cpuUsPerRequest.toFixed(1)} µs CPU/request${inDb}, p99 ${run.latencyP99Ms} ms, ` +
            `load generator at ${Math.round(run.loaderCpuPercent)} % CPU`,
        )
      }
    }
    return runs
  } finally {
    await Promise.all(servers.map(([, server]) => server.stop()))
  }
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length

function summarize(runs: Run[]): Summary[] {
  return BACKENDS.flatMap((backend) =>
    IMPLS[backend].flatMap((impl) =>
      OPERATIONS.flatMap((operation) => {
        const own = runs.filter((r) => r.backend === backend && r.impl === impl && r.operation === operation)
        if (own.length === 0) return []
        const rates = own.map((r) => r.reqPerSec)
        const db = own.map((r) => r.dbCpuUsPerRequest).filter((v) => v !== undefined)
        return [
          {
            backend,
            impl,
            operation,
            reqPerSec: mean(rates),
            cpuUsPerRequest: mean(own.map((r) => r.cpuUsPerRequest)),
            dbCpuUsPerRequest: db.length > 0 ? mean(db) : undefined,
            spread: (Math.max(...rates) - Math.min(...rates)) / mean(rates),
          },
        ]
      }),
    ),
  )
}

function render(summaries: Summary[]): string {
  const find = (backend: Backend, impl: Impl, operation: Operation) =>
    summaries.find((s) => s.backend === backend && s.impl === impl && s.operation === operation)
  const rows = summaries
    .filter((s) => s.impl === 'coatcheck')
    .map((c) => {
      const e = find(c.backend, 'express-session', c.operation)
      return [
        c.backend,
        c.operation,
        fixed(c.reqPerSec),
        fixed(c.cpuUsPerRequest, 1),
        fixed(c.dbCpuUsPerRequest, 1),
        fixed(e?.reqPerSec),
        fixed(e?.cpuUsPerRequest, 1),
        fixed(e?.dbCpuUsPerRequest, 1),
        e ? `${fixed(c.reqPerSec / e.reqPerSec, 2)}x` : '—',
        e ? `${fixed(c.cpuUsPerRequest / e.cpuUsPerRequest, 2)}x` : '—',
      ]
    })
  const head = ['backend', 'operation', 'coatcheck req/s', 'app µs CPU/req', 'db µs CPU/req']
  head.push('express-session req/s', 'app µs CPU/req', 'db µs CPU/req', 'req/s cc/es', 'app CPU cc/es')
  const noisy = summaries
    .filter((s) => s.spread > NOISY)
    .map((s) => `- ${s.impl} (${s.backend}) ${s.operation}: rounds differ by ${Math.round(s.spread * 100)} % in req/s`)
  const warning = noisy.length > 0 ? ['', 'Noisy (rerun on a quiet machine):', ...noisy] : []
  return [table(head, rows, ['---', '---', ...Array(8).fill('---:')]), ...warning].join('\n')
}

/** The per-backend benchmark; writes `results/stores.json`. `BENCH_BACKENDS=memory,redis` runs only those. */
export async function stores(): Promise<void> {
  const settings: LoadSettings = { connections: 10, warmup: 1, duration: seconds('BENCH_DURATION', 3) }
  const only = process.env.BENCH_BACKENDS?.split(',')
  const began = performance.now()
  const backends = await startBackends()
  const runs: Run[] = []
  try {
    for (const backend of BACKENDS) {
      if (only === undefined || only.includes(backend))
        runs.push(...(await measureBackend(backends, backend, settings)))
    }
  } finally {
    await backends.stop()
  }
  const summaries = summarize(runs)
  console.log(
    `\n${settings.connections} connections (read and write: one session per connection), ${settings.warmup} s ` +
      `warm-up + ${settings.duration} s measured per operation, 2 rounds A B B A (mean shown), Node ` +
      `${process.version}, ${availableParallelism()} CPUs. "app" is the server process, "db" the Redis/PostgreSQL ` +
      'server processes; cc/es is coatcheck ÷ express-session (req/s: higher is better; CPU: lower is better).\n',
  )
  console.log(render(summaries))
  await save('stores', began, { settings, summaries, runs })
}
