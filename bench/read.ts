import { availableParallelism } from 'node:os'
import { save, seconds } from './common.ts'
import { type LoadSettings, logIn, type Measurement, measure } from './load.ts'
import { render, summarize, targets } from './report.ts'
import { type Running, SERVERS, start, stopAll } from './servers.ts'

// Authenticated-read throughput of coatcheck against express-session and bare Express, in one run. Each server is
// its own process; the load generator runs here. Two rounds in opposite orders, averaged, cancel slow drift.

/** The read benchmark; writes `results/latest.json`. */
export async function read(): Promise<void> {
  const settings: LoadSettings = { connections: 10, warmup: 2, duration: seconds('BENCH_DURATION', 5) }
  const began = performance.now()
  const servers: Running[] = []
  for (const name of SERVERS) servers.push(await start(name))
  const headers = new Map(await Promise.all(servers.map(async (s) => [s.name, await logIn(s)] as const)))

  const runs: Measurement[] = []
  for (const order of [servers, [...servers].reverse()]) {
    for (const server of order) {
      const run = await measure(server, { headers: headers.get(server.name)! }, settings)
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
  await save('latest', began, { settings, summaries, targets: goals, runs })
}
