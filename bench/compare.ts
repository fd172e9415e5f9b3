import { appArgs, BARE_COOKIE, type Backend, ME_BODY, type Variant } from './app-shape.ts'
import { type Backends, startBackends } from './backends.ts'
import { median } from './common.ts'
import { cpuDelta, machineTicks } from './cpu.ts'
import { drive, type Load } from './load.ts'
import { sqliteAnchor } from './native.ts'
import { type Running, start } from './servers.ts'

// The comparison `npm run bench` runs: the same app in every variant, one backend at a time, each scenario measured
// in alternated rounds (A B, B A, A B...) so that slow drift of a shared machine falls on both sides alike.

export const SCENARIOS = {
  read: { label: 'authenticated read (rolling off)', method: 'GET', path: '/me', cookies: true, rolling: false },
  'read-rolling': {
    label: 'authenticated read (rolling on)',
    method: 'GET',
    path: '/me',
    cookies: true,
    rolling: true,
  },
  write: { label: 'write (POST /cart)', method: 'POST', path: '/cart', cookies: true, rolling: false },
  'read-50': {
    label: 'authenticated read, 50 connections',
    method: 'GET',
    path: '/me',
    cookies: true,
    rolling: false,
    connections: 50,
  },
  create: { label: 'session creation (POST /login)', method: 'POST', path: '/login', cookies: false, rolling: false },
} as const satisfies Record<
  string,
  { label: string; method: 'GET' | 'POST'; path: string; cookies: boolean; rolling: boolean; connections?: number }
>
export type Scenario = keyof typeof SCENARIOS

/** How one comparison runs. Times in whole seconds. */
export interface Settings {
  backends: Backend[]
  /** In order; creations go last, since they fill the stores (and evict from a bounded memory store). */
  scenarios: Scenario[]
  /** Scenarios run only on these backends (the 50-connection read is for SQLite's p99 target). */
  only: Partial<Record<Scenario, Backend[]>>
  connections: number
  warmup: number
  seconds: number
  rounds: number
  /** Include bare Express + a no-op middleware. */
  noop: boolean
}

/** One measured run of one server. */
export interface Run {
  backend: Backend
  variant: Variant
  scenario: Scenario
  round: number
  requests: number
  seconds: number
  reqPerSec: number
  /** The server process's CPU (every thread) per request, in µs: the primary figure. */
  cpuUs: number
  userUs: number
  systemUs: number
  /** Share of one core the server used: near 1, the server set the pace; lower, something else did. */
  serverBusy: number
  p50Ms: number
  p99Ms: number
  /** The database server's CPU per request (Redis, PostgreSQL), in µs. */
  dbCpuUs?: number
  /** Redis commands per request. */
  dbCommands?: number
  /** Share of the machine's CPU time the hypervisor took (steal) during the run: a busy host slows everything. */
  steal: number
}

export interface Comparison {
  settings: Settings
  anchors: Record<Backend, string>
  versions: Backends['versions']
  generator: string
  runs: Run[]
  /** Backends whose comparison failed part-way (a crashed server, a failed request): their figures are incomplete. */
  failures: { backend: Backend; error: string }[]
}

export const ANCHORS: Record<Backend, string> = {
  memory: 'express-session MemoryStore',
  redis: 'express-session + connect-redis',
  postgres: 'express-session + connect-pg-simple',
  sqlite: 'express-session + better-sqlite3-session-store',
}

const variantsOf = (backend: Backend, s: Settings): Variant[] =>
  backend === 'memory'
    ? ['bare', ...(s.noop ? (['noop'] as const) : []), 'express-session', 'coatcheck']
    : ['express-session', 'coatcheck']

const scenariosOf = (backend: Backend, s: Settings): Scenario[] =>
  s.scenarios.filter((scenario) => s.only[scenario]?.includes(backend) ?? true)

const connectionsOf = (scenario: Scenario, s: Settings): number =>
  (SCENARIOS[scenario] as { connections?: number }).connections ?? s.connections

const hasSession = (variant: Variant) => variant === 'coatcheck' || variant === 'express-session'

/** Logs `count` sessions in and checks, by hand, that a read, a write and a creation behave; resolves the cookies. */
export async function loggedIn(server: Running, count: number): Promise<string[]> {
  const cookies: string[] = []
  for (let i = 0; i < count; i++) {
    const login = await fetch(`${server.url}/login`, { method: 'POST' })
    const setCookie = login.headers.getSetCookie()[0]
    await login.arrayBuffer()
    if (!login.ok || setCookie === undefined) throw new Error(`${server.name}: login answered ${login.status}`)
    cookies.push(setCookie.split(';', 1)[0]!)
  }
  const headers = { cookie: cookies[0]! }
  const me = await (await fetch(`${server.url}/me`, { headers })).text()
  if (me !== ME_BODY) throw new Error(`${server.name}: GET /me answered ${me}, expected ${ME_BODY}`)
  const carts: string[] = []
  for (let i = 0; i < 2; i++) {
    await (await fetch(`${server.url}/cart`, { method: 'POST', headers })).arrayBuffer()
    carts.push(await (await fetch(`${server.url}/cart`, { headers })).text())
  }
  if (carts[0] === carts[1]) throw new Error(`${server.name}: two cart writes read back as ${carts[1]}`)
  return cookies
}

export async function measure(
  backends: Backends,
  backend: Backend,
  variant: Variant,
  server: Running,
  load: Load,
): Promise<Omit<Run, 'scenario' | 'round'>> {
  const ticks0 = machineTicks()
  const cpu0 = server.procCpu()
  const dbWindow = await backends.cpuWindow(backend)
  const commands0 = await backends.commands(backend)
  const result = await drive(server.url, load)
  const cpu = cpuDelta(server.procCpu(), cpu0)
  const ticks = machineTicks()
  const db = await dbWindow()
  const commands = await backends.commands(backend)
  const n = result.requests
  return {
    backend,
    variant,
    requests: n,
    seconds: result.seconds,
    reqPerSec: n / result.seconds,
    cpuUs: cpu.total / n,
    userUs: cpu.user / n,
    systemUs: cpu.system / n,
    serverBusy: cpu.total / 1e6 / result.seconds,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    steal: (ticks.steal - ticks0.steal) / Math.max(1, ticks.total - ticks0.total),
    ...(backend === 'redis' || backend === 'postgres' ? { dbCpuUs: db / n } : {}),
    // Two INFO commands of this process fall inside the window: not the app's.
    ...(commands !== undefined && commands0 !== undefined ? { dbCommands: (commands - commands0 - 2) / n } : {}),
  }
}

/** Measures one backend's scenarios into `runs` (filled as it goes, so a failure keeps what was measured). */
async function compareBackend(backends: Backends, backend: Backend, s: Settings, anchor: string, runs: Run[]) {
  const scenarios = scenariosOf(backend, s)
  const rollings = [...new Set(scenarios.map((scenario) => SCENARIOS[scenario].rolling))]
  const servers = new Map<string, Running>()
  const keyOf = (variant: Variant, rolling: boolean) => (hasSession(variant) ? `${variant}/${rolling}` : variant)
  const env = anchor.includes('node:sqlite') ? { BENCH_SQLITE_CLIENT: 'node:sqlite' } : undefined
  try {
    for (const variant of variantsOf(backend, s)) {
      for (const rolling of hasSession(variant) ? rollings : [false]) {
        const where = backends.where(backend, `${variant}-${rolling ? 'rolling' : 'fixed'}`)
        const args = appArgs({ variant, backend, rolling, where })
        const name = `${variant} (${backend}${hasSession(variant) && rolling ? ', rolling' : ''})`
        servers.set(keyOf(variant, rolling), await start(name, { file: 'app', args, ...(env && { env }) }))
      }
    }
    const most = Math.max(...scenarios.map((scenario) => connectionsOf(scenario, s)))
    const cookies = new Map<Running, string[]>()
    for (const [key, server] of servers) {
      // The bare servers get a cookie of the same size, so every variant parses the same request bytes.
      const session = hasSession(key.split('/')[0] as Variant)
      cookies.set(server, session ? await loggedIn(server, most) : Array<string>(most).fill(BARE_COOKIE))
    }

    for (const scenario of scenarios) {
      const { method, path, rolling } = SCENARIOS[scenario]
      const connections = connectionsOf(scenario, s)
      const players = variantsOf(backend, s).map((variant) => [variant, servers.get(keyOf(variant, rolling))!] as const)
      const load = (server: Running, seconds: number): Load => ({
        method,
        path,
        cookies: SCENARIOS[scenario].cookies ? cookies.get(server)!.slice(0, connections) : [],
        connections,
        seconds,
      })
      for (const [, server] of players) await drive(server.url, load(server, s.warmup))
      for (let round = 0; round < s.rounds; round++) {
        for (const [variant, server] of round % 2 === 0 ? players : [...players].reverse()) {
          const run = {
            ...(await measure(backends, backend, variant, server, load(server, s.seconds))),
            scenario,
            round,
          }
          runs.push(run)
          const db = run.dbCpuUs === undefined ? '' : ` + ${run.dbCpuUs.toFixed(1)} µs in ${backend}`
          console.error(
            `${backend} ${scenario} round ${round + 1} ${variant}: ${run.cpuUs.toFixed(1)} µs CPU/req${db}, ` +
              `${Math.round(run.reqPerSec)} req/s, p99 ${run.p99Ms.toFixed(2)} ms, server busy ` +
              `${Math.round(run.serverBusy * 100)} %, host steal ${Math.round(run.steal * 100)} %`,
          )
        }
      }
    }
  } finally {
    await Promise.all([...servers.values()].map((server) => server.stop()))
  }
}

/** Runs the comparison on every backend of `s`, one at a time. */
export async function compare(s: Settings): Promise<Comparison> {
  const anchors = { ...ANCHORS }
  if (s.backends.includes('sqlite')) anchors.sqlite = `express-session + ${sqliteAnchor().label}`
  const backends = await startBackends(s.backends)
  const runs: Run[] = []
  const failures: Comparison['failures'] = []
  try {
    for (const backend of s.backends) {
      // One backend's failure (a crashed anchor, say) must not throw away the others' figures.
      const own: Run[] = []
      try {
        await compareBackend(backends, backend, s, anchors[backend], own)
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        console.error(`bench: ${backend} failed: ${message}`)
        failures.push({ backend, error: message })
      }
      runs.push(...own)
    }
  } finally {
    await backends.stop()
  }
  const { generator } = await import('./load.ts')
  return { settings: s, anchors, versions: backends.versions, generator: generator(), runs, failures }
}

/** The median of each figure over one server's rounds, with how far apart the rounds were. */
export interface Summary {
  backend: Backend
  variant: Variant
  scenario: Scenario
  rounds: number
  cpuUs: number
  userUs: number
  systemUs: number
  reqPerSec: number
  p99Ms: number
  serverBusy: number
  dbCpuUs?: number
  dbCommands?: number
  /** The host's steal over this server's windows (median): how much the hypervisor took while it was measured. */
  steal: number
  /** (max − min) / median over the rounds, of CPU/request and of req/s. */
  cpuSpread: number
  rateSpread: number
}

export function summarize(runs: Run[]): Summary[] {
  const groups = new Map<string, Run[]>()
  for (const run of runs) {
    const key = `${run.backend}|${run.variant}|${run.scenario}`
    groups.set(key, [...(groups.get(key) ?? []), run])
  }
  const spread = (values: number[]) => (Math.max(...values) - Math.min(...values)) / median(values)
  return [...groups.values()].map((own) => {
    const of = (pick: (r: Run) => number | undefined) => {
      const values = own.map(pick).filter((v) => v !== undefined)
      return values.length > 0 ? median(values) : undefined
    }
    const { backend, variant, scenario } = own[0]!
    const db = of((r) => r.dbCpuUs)
    const commands = of((r) => r.dbCommands)
    return {
      backend,
      variant,
      scenario,
      rounds: own.length,
      cpuUs: of((r) => r.cpuUs)!,
      userUs: of((r) => r.userUs)!,
      systemUs: of((r) => r.systemUs)!,
      reqPerSec: of((r) => r.reqPerSec)!,
      p99Ms: of((r) => r.p99Ms)!,
      serverBusy: of((r) => r.serverBusy)!,
      ...(db !== undefined && { dbCpuUs: db }),
      ...(commands !== undefined && { dbCommands: commands }),
      steal: of((r) => r.steal) ?? 0,
      cpuSpread: spread(own.map((r) => r.cpuUs)),
      rateSpread: spread(own.map((r) => r.reqPerSec)),
    }
  })
}
