import autocannon from 'autocannon'
import { EXPECTED_BODY } from './servers/serve.ts'
import type { Running, ServerName } from './servers.ts'

/** How every server is loaded. Times in seconds. */
export interface LoadSettings {
  connections: number
  warmup: number
  duration: number
}

/** One measured run of one server. */
export interface Measurement {
  server: ServerName
  requests: number
  seconds: number
  reqPerSec: number
  /** The server process's CPU time (user + system) over the run, per request. */
  cpuUsPerRequest: number
  latencyP50Ms: number
  latencyP99Ms: number
  /** This process's CPU use during the run; near 100 % means the load generator, not the server, set the pace. */
  loaderCpuPercent: number
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

/** Warms `server` up, then measures it. Throws when any request of either run failed. */
export async function measure(server: Running, headers: Record<string, string>, s: LoadSettings): Promise<Measurement> {
  await load(server, headers, s.connections, s.warmup)
  const serverBefore = await server.cpu()
  const loaderBefore = process.cpuUsage()
  const result = await load(server, headers, s.connections, s.duration)
  const serverUs = (await server.cpu()) - serverBefore
  const loader = process.cpuUsage(loaderBefore)
  const requests = result.requests.total
  return {
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

async function load(server: Running, headers: Record<string, string>, connections: number, duration: number) {
  const result = await autocannon({
    url: `${server.url}/me`,
    connections,
    duration,
    headers,
    expectBody: EXPECTED_BODY,
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
