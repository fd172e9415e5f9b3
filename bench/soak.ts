/**
 * Soaks (issue 14), outside `npm test`: long, bounded loads on loopback that look for slow leaks.
 *
 *   node bench/soak.ts memory [--minutes 5]            memoryStore at its maxEntries under churn: RSS plateaus
 *   node bench/soak.ts redis [--minutes 5]             a steady mixed load on Redis: no growth, no leaked keys
 *   node bench/soak.ts postgres [--minutes 5]          the same on PostgreSQL: no growth, no leaked rows
 *   node bench/soak.ts cluster-failover                the Redis Cluster failover test (test/reliability/failover.test.ts)
 *   node bench/soak.ts all [--minutes 5]
 *
 * The mixed load logs users in (some remembered), writes, reads and logs out, with short timeouts so that sessions
 * and tokens expire while it runs. After it stops, the soak waits for every deadline to pass and then counts what is
 * left in the store: every expired session, token and user index must be gone. Prints one JSON line per soak.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { createClient } from 'redis'
import { memoryStore } from '../src/index.ts'
import { postgresStore } from '../src/stores/postgres/index.ts'
import { redisStore } from '../src/stores/redis/index.ts'
import type { SessionStore } from '../src/stores/types.ts'
import { startApp } from '../test/reliability/app.ts'
import { Browser } from '../test/support/http.ts'
import { startPostgres } from '../test/support/postgres.ts'
import { startRedis } from '../test/support/redis.ts'

const args = process.argv.slice(2)
const mode = args[0] === '--serve' ? 'serve' : (args.find((a) => !a.startsWith('--')) ?? 'all')
const minutesAt = args.indexOf('--minutes')
const MINUTES = minutesAt === -1 ? 5 : Number(args[minutesAt + 1])
if (!(MINUTES > 0)) throw new TypeError('--minutes must be a positive number')
const IDLE = 3000
const ABSOLUTE = 10_000
const REMEMBER = 8000

interface Samples {
  rss: number[]
  heap: number[]
}

/** Max of the last third against max of the middle third, as a ratio: about 1 on a plateau. */
function growth(values: number[]): number {
  const third = Math.floor(values.length / 3)
  if (third === 0) return 1
  const middle = Math.max(...values.slice(third, 2 * third))
  const last = Math.max(...values.slice(2 * third))
  return last / middle
}

/** The resident set of process `pid`, in bytes (Linux). */
function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m)
  return line ? Number(line[1]) * 1024 : 0
}

/**
 * Runs `iteration` on `workers` loops for MINUTES against the app process `app`, sampling its RSS (and its heap, which
 * it reports at /__heap) every 5 s. The load runs in this process, so its own allocations never count.
 */
async function drive(app: Served, workers: number, iteration: (worker: number, n: number) => Promise<number[]>) {
  const until = Date.now() + MINUTES * 60_000
  const samples: Samples = { rss: [], heap: [] }
  const statuses: Record<string, number> = {}
  const sampler = setInterval(async () => {
    samples.rss.push(rssOf(app.pid))
    const reply = await fetch(`${app.url}/__heap`).catch(() => undefined)
    if (reply?.ok) samples.heap.push(Number(await reply.text()))
  }, 5000)
  let requests = 0
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let n = 0; Date.now() < until; n++) {
        for (const status of await iteration(worker, n)) {
          statuses[status] = (statuses[status] ?? 0) + 1
          requests++
        }
      }
    }),
  )
  clearInterval(sampler)
  const mb = (bytes: number) => Math.round(bytes / 1e5) / 10
  return {
    requests,
    statuses,
    appRssMb: { first: mb(samples.rss[0] ?? 0), max: mb(Math.max(...samples.rss)), last: mb(samples.rss.at(-1) ?? 0) },
    appHeapMb: {
      first: mb(samples.heap[0] ?? 0),
      max: mb(Math.max(...samples.heap)),
      last: mb(samples.heap.at(-1) ?? 0),
    },
    rssGrowthLastThird: Math.round(growth(samples.rss) * 1000) / 1000,
    heapGrowthLastThird: Math.round(growth(samples.heap) * 1000) / 1000,
  }
}

/** One visitor's mixed session: a cart, maybe a login (maybe remembered), reads, maybe a logout. */
async function visit(url: string, worker: number, n: number): Promise<number[]> {
  const browser = new Browser(url)
  const statuses: number[] = []
  const step = async (reply: Promise<{ status: number }>) => statuses.push((await reply).status)
  await step(browser.post('/set/cart', { value: [n, 'tea', 'x'.repeat(n % 200)] }))
  if (n % 3 !== 0) {
    await step(browser.post(`/login/user-${(worker * 7919 + n) % 500}${n % 4 === 0 ? '?remember=1' : ''}`))
  }
  for (let i = 0; i < 3; i++) await step(browser.get('/me'))
  await step(browser.post(`/set/k${n % 10}`, { value: n }))
  if (n % 2 === 0) await step(browser.post('/logout'))
  return statuses
}

function timeouts(): { idleTimeout: number; absoluteTimeout: number; touchAfter: number } {
  return { idleTimeout: IDLE, absoluteTimeout: ABSOLUTE, touchAfter: 500 }
}

/** An app process started by `serve()`: its URL, its PID, a count of its 500s, and a stop. */
interface Served {
  url: string
  pid: number
  stop(): Promise<number>
}

/**
 * The child side: `node bench/soak.ts --serve memory|redis <url> <prefix>|postgres <url>` serves the reliability app
 * (test/reliability/app.ts) on that store, prints its URL, answers its heap size at /__heap, and on stdin's end
 * prints its count of 500s and exits.
 */
async function serveChild(kind: string, target: string | undefined, extra: string | undefined): Promise<void> {
  let store: SessionStore
  const closers: (() => Promise<unknown>)[] = []
  if (kind === 'memory') {
    store = memoryStore({ maxEntries: 2000, pruneInterval: 1000 })
  } else if (kind === 'redis') {
    const client = createClient({ url: target })
    await client.connect()
    closers.push(() => client.close())
    store = redisStore({ client, prefix: extra! })
  } else {
    const pool = new pg.Pool({ connectionString: target, max: 8 })
    const pgStore = await postgresStore({ pool, tablePrefix: 'soak_', pruneInterval: 1000 })
    closers.push(
      () => pgStore.close(),
      () => pool.end(),
    )
    store = pgStore
  }
  const app = await startApp(store, kind === 'memory' ? {} : timeouts())
  const [handler] = app.server.listeners('request') as ((...a: unknown[]) => void)[]
  app.server.removeAllListeners('request')
  app.server.on('request', (req, res) => {
    if (req.url === '/__heap') res.end(String(process.memoryUsage().heapUsed))
    else handler!(req, res)
  })
  process.stdout.write(`${app.url}\n`)
  process.stdin.resume()
  process.stdin.on('end', async () => {
    await app.close()
    for (const close of closers) await close()
    process.stdout.write(`${app.fiveHundreds.length}\n`)
    process.exit(0)
  })
}

async function serve(...args: string[]): Promise<Served> {
  const file = fileURLToPath(import.meta.url)
  const child: ChildProcess = spawn(process.execPath, ['--no-warnings', file, '--serve', ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
  })
  while (!out.includes('\n')) {
    if (child.exitCode !== null) throw new Error(`the app process exited (${child.exitCode})`)
    await sleep(20)
  }
  const url = out.split('\n')[0]!
  return {
    url,
    pid: child.pid!,
    async stop() {
      const closed = new Promise((resolve) => child.once('close', resolve))
      child.stdin!.end()
      await closed
      return Number(out.split('\n')[1])
    },
  }
}

async function soakMemory() {
  const app = await serve('memory')
  const result = await drive(app, 8, (worker, n) => visit(app.url, worker, n))
  return { soak: 'memory', maxEntries: 2000, ...result, fiveHundreds: await app.stop() }
}

async function soakRedis() {
  const server = await startRedis()
  const client = createClient({ url: server.url })
  await client.connect()
  const prefix = `soak:${randomUUID()}:`
  const app = await serve('redis', server.url, prefix)
  try {
    const result = await drive(app, 8, (worker, n) => visit(app.url, worker, n))
    const fiveHundreds = await app.stop()
    await sleep(Math.max(ABSOLUTE, REMEMBER) + 1000)
    const left: Record<string, number> = {}
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      for (const key of keys) {
        const kind = key.slice(prefix.length).split(':')[0]!
        left[kind] = (left[kind] ?? 0) + 1
      }
    }
    return { soak: 'redis', ...result, fiveHundreds, leftAfterDeadlines: left }
  } finally {
    await client.close()
    await server.stop()
  }
}

async function soakPostgres() {
  const server = await startPostgres()
  const app = await serve('postgres', server.connectionString)
  const pool = new pg.Pool({ connectionString: server.connectionString, max: 2 })
  const store = await postgresStore({ pool, tablePrefix: 'soak_', pruneInterval: 1000 })
  try {
    const result = await drive(app, 8, (worker, n) => visit(app.url, worker, n))
    const fiveHundreds = await app.stop()
    // This process's store prunes from here on, as the app's would have.
    await sleep(Math.max(ABSOLUTE, REMEMBER) + 2500)
    const left: Record<string, number> = {}
    for (const table of ['sessions', 'tokens', 'counters']) {
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM soak_${table}`)
      left[table] = rows[0]!.n
    }
    return { soak: 'postgres', ...result, fiveHundreds, leftAfterDeadlines: left }
  } finally {
    await store.close()
    await pool.end()
    await server.stop()
  }
}

function clusterFailover() {
  const file = fileURLToPath(new URL('../test/reliability/failover.test.ts', import.meta.url))
  const run = spawnSync(process.execPath, ['--test', '--test-name-pattern=Cluster', file], {
    stdio: 'inherit',
    env: { ...process.env, COATCHECK_SOAK: '1' },
  })
  return { soak: 'cluster-failover', exitCode: run.status }
}

const soaks: Record<string, () => unknown> = {
  memory: soakMemory,
  redis: soakRedis,
  postgres: soakPostgres,
  'cluster-failover': clusterFailover,
}
if (args[0] === '--serve') {
  await serveChild(args[1]!, args[2], args[3])
} else {
  // An interrupted soak still stops its servers (the test support kills them on 'exit').
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130))
  // The servers' child processes are unref'd (a test process must be able to exit): keep this one alive until done.
  const keepAlive = setInterval(() => {}, 60_000)
  const chosen = mode === 'all' ? Object.keys(soaks) : [mode]
  for (const name of chosen) {
    const soak = soaks[name]
    if (!soak) throw new TypeError(`unknown soak ${name}; choose from ${Object.keys(soaks).join(', ')} or all`)
    process.stdout.write(`${JSON.stringify(await soak())}\n`)
  }
  clearInterval(keepAlive)
}
