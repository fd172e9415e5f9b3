import { setTimeout as sleep } from 'node:timers/promises'
import type { Browser } from '../support/http.ts'
import { tally } from './app.ts'

/** What a bounded load saw: every status, the writes the server acknowledged (200) per browser, and timings. */
export interface LoadResult {
  statuses: number[]
  /** Per browser, the keys whose write was answered 200: the server said they are stored. */
  acknowledged: Map<Browser, string[]>
  /** The slowest answer of each status, in ms. */
  slowest: Record<string, number>
  /** When each acknowledged key's 200 arrived (epoch ms). */
  ackedAt: Map<string, number>
  /** When each answer arrived, with its status, in order. */
  timeline: [number, number][]
  counts(): Record<string, number>
}

/**
 * Keeps `browsers` writing one new key per request (`POST /set/<prefix><n>`) until `done()` says stop, at most
 * `maxRequests` in all. Each browser must already hold a stored session.
 */
export function writeLoad(
  browsers: Browser[],
  done: () => boolean,
  { prefix = 'k', maxRequests = 5000 }: { prefix?: string; maxRequests?: number } = {},
): { live: LoadResult; finished: Promise<LoadResult> } {
  const statuses: number[] = []
  const acknowledged = new Map<Browser, string[]>(browsers.map((b) => [b, []]))
  const slowest: Record<string, number> = {}
  const ackedAt = new Map<string, number>()
  const timeline: [number, number][] = []
  const live: LoadResult = { statuses, acknowledged, slowest, ackedAt, timeline, counts: () => tally(statuses) }
  let sent = 0
  const finished = Promise.all(
    browsers.map(async (browser, b) => {
      for (let n = 0; !done() && sent < maxRequests; n++) {
        sent++
        const key = `${prefix}${b}_${n}`
        const began = Date.now()
        const reply = await browser.post(`/set/${key}`, { value: n }).catch(() => ({ status: 0 }))
        const took = Date.now() - began
        statuses.push(reply.status)
        timeline.push([began + took, reply.status])
        slowest[reply.status] = Math.max(slowest[reply.status] ?? 0, took)
        if (reply.status === 200) {
          acknowledged.get(browser)!.push(key)
          ackedAt.set(key, began + took)
        }
        // A failed write answers at once; a short pause keeps a fast-failing loop from flooding the log of statuses.
        if (reply.status !== 200) await sleep(5)
      }
    }),
  ).then(() => live)
  return { live, finished }
}

/** Sends writes with `browser` until one is answered 200; resolves the ms it took. Rejects after `timeout` ms. */
export async function recovery(browser: Browser, timeout = 30_000): Promise<number> {
  const began = Date.now()
  for (let n = 0; ; n++) {
    const reply = await browser.post(`/set/probe${n}`, { value: n }).catch(() => ({ status: 0 }))
    if (reply.status === 200) return Date.now() - began
    if (Date.now() - began > timeout) throw new Error(`no 200 within ${timeout} ms (last ${reply.status})`)
    await sleep(20)
  }
}

/** The acknowledged keys that a read of each browser's session no longer shows. */
export async function lostWrites(result: LoadResult): Promise<string[]> {
  const lost: string[] = []
  for (const [browser, keys] of result.acknowledged) {
    const reply = await browser.get('/me')
    const data = reply.status === 200 ? (JSON.parse(reply.body).data as Record<string, unknown>) : {}
    for (const key of keys) if (!(key in data)) lost.push(key)
  }
  return lost
}

/** Waits until `count` answers were collected by a running load (or `ms` passed). */
export async function untilAnswered(result: { statuses: number[] } | (() => number), count: number, ms = 10_000) {
  const deadline = Date.now() + ms
  const answered = typeof result === 'function' ? result : () => result.statuses.length
  while (answered() < count && Date.now() < deadline) await sleep(5)
}
