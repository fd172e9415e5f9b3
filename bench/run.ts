import { mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { type LoadSettings, logIn, type Measurement, measure } from './load.ts'
import { render, summarize, targets } from './report.ts'
import { type Running, SERVERS, start, stopAll } from './servers.ts'

// Authenticated-read throughput of coatcheck against express-session and bare Express, in one run. Each server is
// its own process; the load generator runs here. Two rounds in opposite orders, averaged, cancel slow drift.

const settings: LoadSettings = { connections: 10, warmup: 2, duration: seconds('BENCH_DURATION', 5) }

function seconds(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!(value > 0)) throw new TypeError(`${name} must be a positive number of seconds, got ${JSON.stringify(raw)}`)
  return value
}

async function main(): Promise<void> {
  const began = performance.now()
  const servers: Running[] = []
  for (const name of SERVERS) servers.push(await start(name))
  const headers = new Map(await Promise.all(servers.map(async (s) => [s.name, await logIn(s)] as const)))

  const runs: Measurement[] = []
  for (const order of [servers, [...servers].reverse()]) {
    for (const server of order) {
      const run = await measure(server, headers.get(server.name)!, settings)
      runs.push(run)
      console.error(
        `${server.name}: ${Math.round(run.reqPerSec)} req/s, ${run.cpuUsPerRequest.toFixed(1)} µs CPU/request, ` +
          `p99 ${run.latencyP99Ms} ms, load generator at ${Math.round(run.loaderCpuPercent)} % CPU`,
      )
    }
  }
  await stopAll()

  const summaries = summarize(runs)
  const goals = targets(summaries)
  console.log(
    `\n${settings.connections} connections, ${settings.warmup} s warm-up + ${settings.duration} s measured per ` +
      `server and round, 2 rounds (mean shown), Node ${process.version}, ${availableParallelism()} CPUs\n`,
  )
  console.log(render(summaries, goals))

  const file = new URL('./results/latest.json', import.meta.url)
  await mkdir(new URL('.', file), { recursive: true })
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    settings,
    summaries,
    targets: goals,
    runs,
    wallSeconds: (performance.now() - began) / 1000,
  }
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`)
  console.log(`\nWrote ${file.pathname} (${report.wallSeconds.toFixed(1)} s)`)
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void stopAll().finally(() => process.exit(130))
  })
}

try {
  await main()
} catch (error) {
  // A failed request makes every figure meaningless; a missed target does not fail the run.
  console.error(`\nbench failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
} finally {
  await stopAll()
}
