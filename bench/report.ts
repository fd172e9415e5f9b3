import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { cpus, release } from 'node:os'
import type { Backend, Variant } from './app-shape.ts'
import { fixed, median, table } from './common.ts'
import { type Comparison, SCENARIOS, type Scenario, type Summary, summarize } from './compare.ts'
import { canPin } from './cores.ts'

// Rounds further apart than this (in CPU/request or req/s) mean something else was using the machine.
export const NOISY = 0.15

/** coatcheck against a reference measured in the same run: > 1 means coatcheck is cheaper (CPU) or faster (req/s). */
export interface Ratio {
  backend: Backend
  scenario: Scenario
  against: Variant
  byCpu: number
  byRate: number
  /** coatcheck's CPU per request minus the reference's, in µs. */
  extraUs: number
}

export interface Goal {
  goal: string
  wanted: string
  got: string
  /** The same goal judged by req/s, where it is a ratio. */
  byRate?: string
  met: boolean
}

const find = (s: Summary[], backend: Backend, variant: Variant, scenario: Scenario) =>
  s.find((x) => x.backend === backend && x.variant === variant && x.scenario === scenario)

export function ratios(summaries: Summary[]): Ratio[] {
  return summaries
    .filter((s) => s.variant === 'coatcheck')
    .flatMap((c) =>
      (['express-session', 'bare', 'noop'] as const).flatMap((against) => {
        const other = find(summaries, c.backend, against, c.scenario)
        if (!other) return []
        const byCpu = other.cpuUs / c.cpuUs
        return [
          {
            backend: c.backend,
            scenario: c.scenario,
            against,
            byCpu,
            byRate: c.reqPerSec / other.reqPerSec,
            extraUs: c.cpuUs - other.cpuUs,
          },
        ]
      }),
    )
}

export function goals(summaries: Summary[], r: Ratio[]): Goal[] {
  const out: Goal[] = []
  const ratio = (backend: Backend, scenario: Scenario, against: Variant, wanted: number, what: string) => {
    const x = r.find((q) => q.backend === backend && q.scenario === scenario && q.against === against)
    if (!x) return
    out.push({
      goal: what,
      wanted: `≥ ${wanted}x`,
      got: `${x.byCpu.toFixed(2)}x`,
      byRate: `${x.byRate.toFixed(2)}x`,
      met: x.byCpu >= wanted,
    })
  }
  for (const scenario of ['read', 'read-rolling'] as const) {
    const label = SCENARIOS[scenario].label
    ratio('memory', scenario, 'express-session', 1.5, `memory, ${label}: vs express-session MemoryStore`)
    ratio('memory', scenario, 'bare', 0.85, `memory, ${label}: vs bare Express`)
    const bare = r.find((q) => q.backend === 'memory' && q.scenario === scenario && q.against === 'bare')
    if (bare) {
      out.push({
        goal: `memory, ${label}: CPU over bare Express (aim)`,
        wanted: '≤ 5 µs',
        got: `${bare.extraUs.toFixed(1)} µs`,
        met: bare.extraUs <= 5,
      })
    }
  }
  ratio('redis', 'read', 'express-session', 1.5, 'Redis read vs connect-redis')
  ratio('redis', 'read-rolling', 'express-session', 1.8, 'Redis rolling read vs connect-redis')
  ratio('postgres', 'read', 'express-session', 2.5, 'PostgreSQL read vs connect-pg-simple')
  ratio('postgres', 'write', 'express-session', 1.5, 'PostgreSQL write vs connect-pg-simple')
  ratio('sqlite', 'read', 'express-session', 3, 'SQLite read vs better-sqlite3-session-store')
  const p99 = find(summaries, 'sqlite', 'coatcheck', 'read-50')
  if (p99) {
    out.push({
      goal: 'SQLite read p99 at 50 connections',
      wanted: '< 10 ms',
      got: `${p99.p99Ms.toFixed(1)} ms`,
      met: p99.p99Ms < 10,
    })
  }
  const cc = find(summaries, 'redis', 'coatcheck', 'write')
  const es = find(summaries, 'redis', 'express-session', 'write')
  if (cc?.dbCpuUs !== undefined && es?.dbCpuUs !== undefined) {
    const x = cc.dbCpuUs / es.dbCpuUs
    out.push({
      goal: 'Redis server CPU per write vs connect-redis',
      wanted: '≤ 1.2x',
      got: `${x.toFixed(2)}x (${cc.dbCpuUs.toFixed(1)} vs ${es.dbCpuUs.toFixed(1)} µs)`,
      met: x <= 1.2,
    })
  }
  return out
}

const VARIANT_NAMES: Record<Variant, string> = {
  bare: 'bare Express',
  noop: 'bare + no-op middleware',
  'express-session': 'express-session',
  coatcheck: 'coatcheck',
}

/** The machine, Node and package versions, for the heading of every table. */
export function context(c: Comparison): Record<string, string> {
  const version = (pkg: string) => {
    try {
      return (JSON.parse(readFileSync(`node_modules/${pkg}/package.json`, 'utf8')) as { version: string }).version
    } catch {
      return '—'
    }
  }
  let commit = '—'
  try {
    commit = execFileSync('git', ['describe', '--always', '--dirty'], { encoding: 'utf8' }).trim()
  } catch {}
  const packages = ['express', 'express-session', 'connect-redis', 'connect-pg-simple', 'better-sqlite3-session-store']
  return {
    machine: `${cpus()[0]?.model ?? '?'}, ${cpus().length} cores, Linux ${release()}`,
    node: process.version,
    coatcheck: `${version('..')}${commit === '—' ? '' : ` (${commit})`}`.replace(/^—/, 'working tree'),
    packages: [...packages, 'better-sqlite3', 'redis', 'pg'].map((p) => `${p} ${version(p)}`).join(', '),
    servers: [
      c.versions.redis && `Redis ${c.versions.redis}`,
      c.versions.postgres && `PostgreSQL ${c.versions.postgres}`,
    ]
      .filter(Boolean)
      .join(', '),
    load: `${c.generator}, 1 thread, ${c.settings.connections} connections (50 for the 50-connection read), ${c.settings.warmup} s warm-up per server and scenario, ${c.settings.rounds} alternated rounds of ${c.settings.seconds} s, median shown`,
    pinning: canPin()
      ? 'app server on core 0; load generator and database servers on core 1'
      : 'none (taskset unavailable)',
    'host steal': steal(c.runs),
  }
}

/** The share of the VM's CPU time the hypervisor took during the measured windows. */
function steal(runs: Comparison['runs']): string {
  const shares = runs.map((r) => r.steal).filter((x) => x !== undefined)
  if (shares.length === 0) return 'not measured'
  const pct = (x: number) => `${Math.round(x * 100)} %`
  return `median ${pct(median(shares))}, max ${pct(Math.max(...shares))} of the machine's CPU time during the windows`
}

export interface Rendered {
  markdown: string
  noisy: string[]
}

export function render(c: Comparison): Rendered & { summaries: Summary[]; ratios: Ratio[]; goals: Goal[] } {
  const summaries = summarize(c.runs)
  const r = ratios(summaries)
  const g = goals(summaries, r)
  const ctx = context(c)
  const scenarioName = (s: Scenario) => SCENARIOS[s].label

  const figures = table(
    ['backend', 'scenario', 'server', 'µs CPU/req', 'user / sys', 'req/s', 'p99 ms', 'db µs/req', 'spread', 'steal'],
    summaries.map((s) => [
      s.backend,
      scenarioName(s.scenario),
      s.variant === 'express-session' ? c.anchors[s.backend] : VARIANT_NAMES[s.variant],
      fixed(s.cpuUs, 1),
      `${fixed(s.userUs, 1)} / ${fixed(s.systemUs, 1)}`,
      fixed(s.reqPerSec),
      fixed(s.p99Ms, 2),
      s.dbCpuUs === undefined
        ? '—'
        : `${fixed(s.dbCpuUs, 1)}${s.dbCommands === undefined ? '' : ` (${fixed(s.dbCommands, 1)} cmd)`}`,
      `${Math.round(Math.max(s.cpuSpread, s.rateSpread) * 100)} %`,
      `${Math.round(s.steal * 100)} %`,
    ]),
    ['---', '---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:'],
  )
  const against = table(
    ['backend', 'scenario', 'coatcheck vs', 'by CPU/req', 'by req/s', 'coatcheck µs over it'],
    r.map((x) => [
      x.backend,
      scenarioName(x.scenario),
      x.against === 'express-session' ? c.anchors[x.backend] : VARIANT_NAMES[x.against],
      `${x.byCpu.toFixed(2)}x`,
      `${x.byRate.toFixed(2)}x`,
      fixed(x.extraUs, 1),
    ]),
    ['---', '---', '---', '---:', '---:', '---:'],
  )
  const targets = table(
    ['target', 'wanted', 'got (by CPU/req)', 'by req/s', ''],
    g.map((x) => [x.goal, x.wanted, x.got, x.byRate ?? '', x.met ? 'met' : '**missed**']),
    ['---', '---', '---:', '---:', '---'],
  )
  const noisy = summaries
    .filter((s) => Math.max(s.cpuSpread, s.rateSpread) > NOISY)
    .map(
      (s) =>
        `${VARIANT_NAMES[s.variant]} (${s.backend}), ${scenarioName(s.scenario)}: rounds differ by ` +
        `${Math.round(s.cpuSpread * 100)} % in CPU/request and ${Math.round(s.rateSpread * 100)} % in req/s`,
    )
  const heading = Object.entries(ctx).map(([k, v]) => `- ${k}: ${v}`)
  for (const f of c.failures) noisy.push(`${f.backend} failed part-way, its figures are incomplete: ${f.error}`)
  const warning =
    noisy.length === 0
      ? [`Every server's rounds agree within ${NOISY * 100} %.`]
      : [
          `**Noisy run: rounds differ by more than ${NOISY * 100} % (rerun on a quiet machine; not for the README):**`,
          ...noisy.map((n) => `- ${n}`),
        ]
  const markdown = [
    ...heading,
    '',
    'CPU is the app server process (every thread, from /proc) per request; "db" is the Redis or PostgreSQL server. ' +
      'Ratios: > 1 means coatcheck is cheaper (CPU) or faster (req/s); "spread" is (max − min) / median over the rounds; ' +
      '"steal" is the CPU time the hypervisor took from this VM while that server was measured (median).',
    '',
    '### Ratios against the anchor, same run',
    '',
    against,
    '',
    '### Targets (issue 13)',
    '',
    targets,
    '',
    '### All figures',
    '',
    figures,
    '',
    ...warning,
  ].join('\n')
  return { markdown, noisy, summaries, ratios: r, goals: g }
}

/** Replaces the README's block between the bench markers with `markdown`; refuses a noisy run. */
export function updateReadme(markdown: string, noisy: string[], file = 'README.md'): boolean {
  if (noisy.length > 0) {
    console.error('bench: noisy run, README left alone')
    return false
  }
  const text = readFileSync(file, 'utf8')
  const begin = '<!-- bench:start -->'
  const end = '<!-- bench:end -->'
  const from = text.indexOf(begin)
  const to = text.indexOf(end)
  if (from === -1 || to < from) throw new Error(`${file} has no ${begin} … ${end} block`)
  writeFileSync(file, `${text.slice(0, from + begin.length)}\n${markdown}\n${text.slice(to)}`)
  return true
}
