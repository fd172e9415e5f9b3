import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { onLoadCore } from './cores.ts'

/** The requests one run repeats, on `connections` keep-alive connections, for `seconds`. */
export interface Load {
  method: 'GET' | 'POST'
  path: string
  /** Cookie headers handed out in turn, one per request; none for cookieless requests. */
  cookies: string[]
  connections: number
  /** Whole seconds (wrk's resolution). */
  seconds: number
}

/** What the load generator saw. Latencies in ms, from its latency histogram. */
export interface LoadResult {
  generator: 'wrk' | 'autocannon'
  requests: number
  seconds: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}

let wrk: boolean | undefined
/** wrk when it is installed (Debian's package), else autocannon in this process. */
export function generator(): 'wrk' | 'autocannon' {
  if (wrk === undefined) {
    try {
      execFileSync('wrk', ['--version'], { stdio: 'ignore' })
      wrk = true
    } catch (error) {
      // wrk prints its version and exits 1; only a missing binary is a spawn error.
      wrk = (error as NodeJS.ErrnoException).code !== 'ENOENT'
    }
  }
  return wrk ? 'wrk' : 'autocannon'
}

const SCRIPT = fileURLToPath(new URL('./wrk/session.lua', import.meta.url))

/** Drives `url` with `load` and throws when any request failed: a failed request answers fast and flatters. */
export async function drive(url: string, load: Load): Promise<LoadResult> {
  return generator() === 'wrk' ? withWrk(url, load) : withAutocannon(url, load)
}

interface WrkReport {
  requests: number
  durationUs: number
  connectErrors: number
  readErrors: number
  writeErrors: number
  statusErrors: number
  timeouts: number
  p50Us: number
  p99Us: number
  maxUs: number
}

async function withWrk(url: string, load: Load): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'coatcheck-wrk-'))
  try {
    const cookies = join(dir, 'cookies')
    writeFileSync(cookies, load.cookies.join('\n'))
    const args = ['-t1', `-c${load.connections}`, `-d${load.seconds}s`, '--timeout', '10s', '-s', SCRIPT]
    const [command, argv] = onLoadCore('wrk', [...args, `${url}${load.path}`, '--', load.method, load.path, cookies])
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    // Bounded: wrk stops by itself after its duration; this is only for a wrk that hangs.
    const guard = setTimeout(() => child.kill('SIGKILL'), (load.seconds + 20) * 1000)
    const code = await new Promise<number | null>((resolve) => child.once('exit', (exit) => resolve(exit)))
    clearTimeout(guard)
    const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '))
    if (code !== 0 || line === undefined) throw new Error(`wrk exited ${code}:\n${out}`)
    const r = JSON.parse(line.slice('WRK_JSON '.length)) as WrkReport
    const failed = r.connectErrors + r.readErrors + r.writeErrors + r.statusErrors + r.timeouts
    if (failed > 0 || r.requests === 0) {
      throw new Error(
        `${url}${load.path}: ${r.statusErrors} non-2xx/3xx, ${r.timeouts} timeouts, ` +
          `${r.connectErrors + r.readErrors + r.writeErrors} socket errors (of ${r.requests})`,
      )
    }
    return {
      generator: 'wrk',
      requests: r.requests,
      seconds: r.durationUs / 1e6,
      p50Ms: r.p50Us / 1000,
      p99Ms: r.p99Us / 1000,
      maxMs: r.maxUs / 1000,
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function withAutocannon(url: string, load: Load): Promise<LoadResult> {
  let next = 0
  const headers: Record<string, string> = load.method === 'POST' ? { 'content-length': '0' } : {}
  const result = await autocannon({
    url: `${url}${load.path}`,
    method: load.method,
    connections: load.connections,
    duration: load.seconds,
    headers,
    setupClient:
      load.cookies.length === 0
        ? undefined
        : (client) => client.setHeaders({ ...headers, cookie: load.cookies[next++ % load.cookies.length]! }),
  })
  const { errors, non2xx } = result
  if (errors + non2xx > 0 || result.requests.total === 0) {
    throw new Error(`${url}${load.path}: ${non2xx} non-2xx, ${errors} errors (of ${result.requests.total})`)
  }
  return {
    generator: 'autocannon',
    requests: result.requests.total,
    seconds: result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
  }
}
