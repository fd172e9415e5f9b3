import autocannon from 'autocannon'
import { fixed, save, table } from './common.ts'
import { EXPECTED_BODY, type Lag, OK_BODY, PASSWORD } from './servers/serve.ts'
import { type Running, start } from './servers.ts'

// A burst of concurrent password logins against coatcheck (argon2id off the event loop) and, as the counter-example,
// the same server hashing synchronously. The server measures its own event-loop delay during the burst.

type Mode = 'async' | 'sync'
const LABELS: Record<Mode, string> = {
  async: 'coatcheck verifyPassword (thread pool)',
  sync: 'counter-example: argon2Sync on the loop',
}

interface Burst {
  mode: Mode
  logins: number
  seconds: number
  loginsPerSec: number
  latencyP50Ms: number
  latencyP99Ms: number
  latencyMaxMs: number
  cpuUsPerLogin: number
  lag: Lag
}

const login = (server: Running, password: string) =>
  fetch(`${server.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ password }),
  })

/** A wrong password is refused; the right one sets a cookie that authenticates a read. */
async function check(server: Running): Promise<void> {
  const wrong = await login(server, 'wrong')
  if (wrong.status !== 401) throw new Error(`${server.name}: a wrong password answered ${wrong.status}`)
  const right = await login(server, PASSWORD)
  const cookie = right.headers.getSetCookie()[0]?.split(';', 1)[0]
  if (!right.ok || cookie === undefined) throw new Error(`${server.name}: login answered ${right.status}`)
  const me = await (await fetch(`${server.url}/me`, { headers: { cookie } })).text()
  if (me !== EXPECTED_BODY) throw new Error(`${server.name}: after login /me answered ${me}`)
}

async function burst(server: Running, mode: Mode, logins: number): Promise<Burst> {
  await check(server)
  for (let i = 0; i < 8; i++) await login(server, PASSWORD) // thread pool, JIT and allocator warm
  if ((await server.ask({ type: 'lag-start' })).type !== 'lag-started') throw new Error('lag monitor did not start')
  const cpuBefore = await server.cpu()
  const began = performance.now()
  const result = await autocannon({
    url: `${server.url}/login`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ password: PASSWORD }),
    connections: Math.min(200, logins),
    amount: logins,
    timeout: 120,
    expectBody: OK_BODY,
  })
  const seconds = (performance.now() - began) / 1000
  const reply = await server.ask({ type: 'lag-stop' })
  const cpu = (await server.cpu()) - cpuBefore
  if (reply.type !== 'lag') throw new Error(`${server.name} answered ${reply.type} to lag-stop`)
  const { errors, non2xx, mismatches } = result
  if (errors + non2xx + mismatches > 0 || result.requests.total !== logins) {
    throw new Error(`${server.name}: ${non2xx} non-2xx, ${mismatches} wrong bodies, ${errors} errors of ${logins}`)
  }
  const { p50, p99, max } = result.latency
  const run = { mode, logins, seconds, loginsPerSec: logins / seconds, cpuUsPerLogin: cpu / logins, lag: reply.lag }
  return { ...run, latencyP50Ms: p50, latencyP99Ms: p99, latencyMaxMs: max }
}

/** The login benchmark; writes `results/login.json`. */
export async function loginBench(): Promise<void> {
  const logins = Number(process.env.BENCH_LOGINS ?? 200)
  const began = performance.now()
  const bursts: Burst[] = []
  for (const mode of ['async', 'sync'] as const) {
    const server = await start(`login (${mode})`, { file: 'login', args: [mode] })
    try {
      const b = await burst(server, mode, logins)
      bursts.push(b)
      console.error(`${LABELS[mode]}: ${b.loginsPerSec.toFixed(1)} logins/s, lag p99 ${b.lag.p99.toFixed(1)} ms`)
    } finally {
      await server.stop()
    }
  }
  const ms = (v: number) => fixed(v, 1)
  const rows = bursts.map((b) => [
    LABELS[b.mode],
    String(b.logins),
    fixed(b.seconds, 2),
    ms(b.loginsPerSec),
    `${fixed(b.latencyP50Ms)} / ${fixed(b.latencyP99Ms)} / ${fixed(b.latencyMaxMs)}`,
    `${ms(b.lag.p50)} / ${ms(b.lag.p99)} / ${ms(b.lag.max)}`,
    `${fixed(b.lag.utilization * 100)} %`,
    fixed(b.cpuUsPerLogin / 1000, 1),
  ])
  const head = ['server', 'logins', 's', 'logins/s', 'latency ms p50 / p99 / max', 'loop lag ms p50 / p99 / max']
  console.log(
    `\n${logins} concurrent logins (${Math.min(200, logins)} connections), argon2id m=19 MiB t=2 p=1, ` +
      `UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}. Loop lag is the server's ` +
      'monitorEventLoopDelay (1 ms resolution) over the burst: one sample per loop turn, so a blocked loop shows in ' +
      'max and "loop busy" (event-loop utilization) more than in p99.\n',
  )
  console.log(table([...head, 'loop busy', 'ms CPU/login'], rows))
  const async = bursts.find((b) => b.mode === 'async')!
  const goal = { goal: 'event-loop lag p99 < 20 ms during the burst', got: async.lag.p99, met: async.lag.p99 < 20 }
  console.log(`\nTarget:\n- ${goal.goal}: ${async.lag.p99.toFixed(1)} ms — ${goal.met ? 'met' : 'MISSED'}`)
  await save('login', began, { logins, bursts, targets: [goal] })
}
