import autocannon from 'autocannon'
import { EXPECTED_BODY } from './servers/serve.ts'
import type { Running } from './servers.ts'

/** How every server is loaded. Times in seconds. */
export interface LoadSettings {
  connections: number
  warmup: number
  duration: number
}

/** The request every connection repeats. */
export interface Target {
  method?: 'GET' | 'POST'
  /** Default `/me`. */
  path?: string
  headers?: Record<string, string>
  /** Cookies handed out one per connection in turn, so concurrent writes go to different sessions. */
  cookies?: string[]
  /** Default the authenticated read's answer. */
  expectBody?: string
}

/** One measured run of one server. */
export interface Measurement {
  server: string
  requests: number
  seconds: number
  reqPerSec: number
  /** The server process's CPU time (user + system) over the run, per request. */
  cpuUsPerRequest: number
  latencyP50Ms: number
  latencyP99Ms: number
  /** This process's CPU use during the run; near 100 % means the load generator, not the server, set the pace. */
  loaderCpuPercent: number
  /** The database server's CPU time over the run, per request, when a `dbCpu` clock was given. */
  dbCpuUsPerRequest?: number
}

/**
 * Logs in once with `POST /login` and returns the headers that make every later request authenticated (none for
 * the bare server). Checks one authenticated read by hand, so a broken session fails with a plain message.
 */
export async function logIn(server: Running): Promise<Record<string, string>> {
  if (server.name === 'bare' || server.name === 'bare-middleware') return {}
  const login = await fetch(`${server.url}/login`, { method: 'POST' })
  const setCookie = login.headers.getSetCookie()[0]
  if (!login.ok || setCookie === undefined) {
    throw new Error(`${server.name}: login answered ${login.status} without a session cookie`)
  }
  const headers = { cookie: setCookie.split(';', 1)[0]! }
  const me = await fetch(`${server.url}/me`, { headers })
  const body = await me.text()
  if (me.status !== 200 || body !== EXPECTED_BODY) {
    throw new Error(`${server.name}: authenticated read answered ${me.status} ${body}, expected 200 ${EXPECTED_BODY}`)
  }
  return headers
}

/**
 * Warms `server` up, then measures it; `dbCpu` (µs so far) charges a database server too. Throws when any request of
 * either run failed.
 */
export async function measure(
  server: Running,
  target: Target,
  s: LoadSettings,
  dbCpu?: () => Promise<number>,
): Promise<Measurement> {
  await load(server, target, s.connections, s.warmup)
  const dbBefore = await dbCpu?.()
  const serverBefore = await server.cpu()
  const loaderBefore = process.cpuUsage()
  const result = await load(server, target, s.connections, s.duration)
  const serverUs = (await server.cpu()) - serverBefore
  const loader = process.cpuUsage(loaderBefore)
  const dbUs = dbBefore === undefined ? undefined : (await dbCpu!()) - dbBefore
  const requests = result.requests.total
  return {
    ...(dbUs !== undefined && { dbCpuUsPerRequest: dbUs / requests }),
    server: server.name,
    requests,
    seconds: result.duration,
    reqPerSec: requests / result.duration,
    cpuUsPerRequest: serverUs / requests,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    loaderCpuPercent: ((loader.user + loader.system) / 1e6 / result.duration) * 100,
  }
}

/** Loads `server` for `s.warmup` seconds and forgets the figures. */
export async function warm(server: Running, target: Target, s: LoadSettings): Promise<void> {
  await load(server, target, s.connections, s.warmup)
}

async function load(server: Running, target: Target, connections: number, duration: number) {
  const { cookies = [], headers = {} } = target
  let next = 0
  const result = await autocannon({
    url: `${server.url}${target.path ?? '/me'}`,
    method: target.method ?? 'GET',
    connections,
    duration,
    headers,
    expectBody: target.expectBody ?? EXPECTED_BODY,
    setupClient:
      cookies.length === 0
        ? undefined
        : (client) => client.setHeaders({ ...headers, cookie: cookies[next++ % cookies.length]! }),
  })
  // Timeouts are counted in `errors`; a failed request answers fast, so one would flatter the numbers.
  const { errors, non2xx, mismatches } = result
  if (errors + non2xx + mismatches > 0 || result.requests.total === 0) {
    throw new Error(
      `${server.name}: requests failed: ${non2xx} non-2xx, ${mismatches} wrong bodies, ${errors} errors ` +
        `(of ${result.requests.total})`,
    )
  }
  return result
}
