import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { createServer, type RequestListener } from 'node:http'
import { Session } from 'node:inspector/promises'
import type { AddressInfo } from 'node:net'
import { type ELDHistogram, type EventLoopUtilization, monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { GCProfiler, getHeapStatistics } from 'node:v8'
import { USER } from '../app-shape.ts'

export { OK_BODY, PROFILE, USER } from '../app-shape.ts'

/** The body the login benchmark's authenticated read answers. */
export const EXPECTED_BODY = JSON.stringify({ user: USER })
/** The password of the login benchmark's one user. */
export const PASSWORD = 'correct horse battery staple'

/**
 * Event-loop delay over a window, in ms. The histogram takes one sample per loop turn, so a turn blocked for a second
 * counts once against a thousand quick ones: `utilization` (the share of the window the loop was busy) and `max`
 * show a blocked loop that p99 alone can hide.
 */
export interface Lag {
  p50: number
  p99: number
  max: number
  mean: number
  utilization: number
}

/** The parent's messages to a server, and the server's replies. */
export type ToServer =
  | { type: 'cpu' }
  | { type: 'lag-start' }
  | { type: 'lag-stop' }
  | { type: 'gc-start' }
  | { type: 'gc-stop' }
  | { type: 'prof-start' }
  | { type: 'prof-stop'; file: string }
  | { type: 'probe' }
export type FromServer =
  | { type: 'listening'; port: number }
  | { type: 'cpu'; usage: NodeJS.CpuUsage }
  | { type: 'lag-started' }
  | { type: 'lag'; lag: Lag }
  | { type: 'gc-started' }
  | { type: 'gc'; gc: Collections }
  | { type: 'prof-started' }
  | { type: 'prof'; file: string }
  | { type: 'probe'; counts: Record<string, number> }

/** Counters the app's probe middleware (`BENCH_PROBE=1`) keeps: responses whose methods were wrapped, and such. */
export const probes: Record<string, number> = {}

/**
 * The garbage collections over a window (V8's GCProfiler). `allocatedBytes` is an estimate of what the JS heap took in:
 * the growth of the used heap between collections, summed.
 */
export interface Collections {
  scavenges: number
  markSweeps: number
  /** Time spent collecting, in µs (V8's own measure, main thread). */
  pauseUs: number
  allocatedBytes: number
}

function collections(profile: ReturnType<GCProfiler['stop']>, usedAtStart: number): Collections {
  let last = usedAtStart
  let allocatedBytes = 0
  let scavenges = 0
  let markSweeps = 0
  let pauseUs = 0
  for (const gc of profile?.statistics ?? []) {
    allocatedBytes += Math.max(0, gc.beforeGC.heapStatistics.usedHeapSize - last)
    last = gc.afterGC.heapStatistics.usedHeapSize
    pauseUs += gc.cost
    if (gc.gcType === 'Scavenge' || gc.gcType === 'MinorMarkSweep') scavenges++
    else markSweeps++
  }
  allocatedBytes += Math.max(0, getHeapStatistics().used_heap_size - last)
  return { scavenges, markSweeps, pauseUs, allocatedBytes }
}

/**
 * Serves `handler` on 127.0.0.1 at a free port and reports the port to the parent over IPC. Answers the parent's
 * CPU-usage questions so each server is charged for its own work only, and measures its own event-loop delay between
 * `lag-start` and `lag-stop` (1 ms resolution), since only the server's loop can tell how long it was blocked. Exits when told to (SIGTERM, so a
 * `--cpu-prof` profile is still written) or when the parent goes away, so no server outlives a bench run.
 */
export async function serve(handler: RequestListener): Promise<void> {
  const send = (message: FromServer) => process.send!(message)
  let delay: ELDHistogram | undefined
  let busy: EventLoopUtilization | undefined
  let gc: { profiler: GCProfiler; used: number } | undefined
  let inspector: Session | undefined
  process.on('message', async (message: ToServer) => {
    if (message.type === 'cpu') send({ type: 'cpu', usage: process.cpuUsage() })
    else if (message.type === 'probe') send({ type: 'probe', counts: probes })
    else if (message.type === 'prof-start') {
      // A CPU profile of just the window the parent measures (the inspector's sampling profiler, 100 µs interval).
      inspector = new Session()
      inspector.connect()
      await inspector.post('Profiler.enable')
      await inspector.post('Profiler.setSamplingInterval', { interval: 100 })
      await inspector.post('Profiler.start')
      send({ type: 'prof-started' })
    } else if (message.type === 'prof-stop' && inspector !== undefined) {
      const { profile } = await inspector.post('Profiler.stop')
      inspector.disconnect()
      inspector = undefined
      writeFileSync(message.file, JSON.stringify(profile))
      send({ type: 'prof', file: message.file })
    } else if (message.type === 'gc-start') {
      gc = { profiler: new GCProfiler(), used: getHeapStatistics().used_heap_size }
      gc.profiler.start()
      send({ type: 'gc-started' })
    } else if (message.type === 'gc-stop' && gc !== undefined) {
      send({ type: 'gc', gc: collections(gc.profiler.stop(), gc.used) })
      gc = undefined
    } else if (message.type === 'lag-start') {
      delay = monitorEventLoopDelay({ resolution: 1 })
      delay.enable()
      busy = performance.eventLoopUtilization()
      send({ type: 'lag-started' })
    } else if (message.type === 'lag-stop' && delay !== undefined) {
      delay.disable()
      const ms = (ns: number) => ns / 1e6
      const lag = {
        p50: ms(delay.percentile(50)),
        p99: ms(delay.percentile(99)),
        max: ms(delay.max),
        mean: ms(delay.mean),
        utilization: performance.eventLoopUtilization(busy).utilization,
      }
      send({ type: 'lag', lag })
    }
  })
  process.on('disconnect', () => process.exit(0))
  process.on('SIGTERM', () => process.exit(0))
  const server = createServer(handler)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  send({ type: 'listening', port: (server.address() as AddressInfo).port })
}
