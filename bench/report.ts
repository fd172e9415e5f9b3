import type { Measurement } from './load.ts'
import { SERVERS, type ServerName } from './servers.ts'

/** One server's figures: the mean of its runs, with throughput ratios against the two anchors. */
export interface Summary {
  server: ServerName
  reqPerSec: number
  cpuUsPerRequest: number
  /** How far apart the rounds' req/s are, as a fraction of their mean; a large one means a busy machine. */
  spread: number
  vsExpressSession: number
  vsBare: number
}

/** A performance goal for coatcheck; `byCpu` is the same ratio judged by CPU time per request instead. */
export interface Target {
  goal: string
  wanted: number
  got: number
  byCpu: number
  met: boolean
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length
// Rounds further apart than this mean something else was using the CPU; the ratios are then not to be trusted.
const NOISY = 0.2

/** Averages each server's runs (one per round) and relates them to express-session and bare Express. */
export function summarize(runs: Measurement[]): Summary[] {
  const means = SERVERS.map((server) => {
    const own = runs.filter((run) => run.server === server)
    const rates = own.map((run) => run.reqPerSec)
    return {
      server,
      reqPerSec: mean(rates),
      spread: (Math.max(...rates) - Math.min(...rates)) / mean(rates),
      cpuUsPerRequest: mean(own.map((run) => run.cpuUsPerRequest)),
    }
  })
  const anchor = (name: ServerName) => means.find((m) => m.server === name)!.reqPerSec
  return means.map((m) => ({
    ...m,
    vsExpressSession: m.reqPerSec / anchor('express-session'),
    vsBare: m.reqPerSec / anchor('bare'),
  }))
}

/** coatcheck's goals: at least 1.5x express-session and 0.85x bare Express, in requests per second. */
export function targets(summaries: Summary[]): Target[] {
  const of = (name: ServerName) => summaries.find((s) => s.server === name)!
  const coatcheck = of('coatcheck')
  const goal = (anchor: ServerName, wanted: number, got: number): Target => ({
    goal: `coatcheck ≥ ${wanted}x ${anchor}`,
    wanted,
    got,
    byCpu: of(anchor).cpuUsPerRequest / coatcheck.cpuUsPerRequest,
    met: got >= wanted,
  })
  return [goal('express-session', 1.5, coatcheck.vsExpressSession), goal('bare', 0.85, coatcheck.vsBare)]
}

/** The summaries as a markdown table, then one line per target. */
export function render(summaries: Summary[], goals: Target[]): string {
  const rows = summaries.map(
    (s) =>
      `| ${s.server} | ${Math.round(s.reqPerSec)} | ${s.cpuUsPerRequest.toFixed(1)} | ` +
      `${s.vsExpressSession.toFixed(2)}x | ${s.vsBare.toFixed(2)}x |`,
  )
  const lines = goals.map(
    (t) =>
      `- ${t.goal}: ${t.got.toFixed(2)}x by req/s, ${t.byCpu.toFixed(2)}x by CPU/request — ` +
      (t.met ? 'met' : 'MISSED'),
  )
  const noisy = summaries
    .filter((s) => s.spread > NOISY)
    .map((s) => `- ${s.server}: rounds differ by ${Math.round(s.spread * 100)} % in req/s`)
  const warning = noisy.length > 0 ? ['', 'Noisy run (rerun on a quiet machine):', ...noisy] : []
  return [
    '| server | req/s | µs CPU/request | vs express-session | vs bare Express |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    'Targets (judged by req/s):',
    ...lines,
    ...warning,
  ].join('\n')
}
