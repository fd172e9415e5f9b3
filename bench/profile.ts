import { execFile } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { appArgs, BARE_COOKIE, ME_BODY, type Variant } from './app-shape.ts'
import { fixed, median, save, seconds, table } from './common.ts'
import { cpuDelta } from './cpu.ts'
import { drive, type Load } from './load.ts'
import type { Collections } from './servers/serve.ts'
import { type Running, start } from './servers.ts'

// Where the memory read's CPU goes: bare Express + a no-op middleware against coatcheck + memoryStore (rolling off),
// the same `GET /me` at 10 connections. Alternated rounds of CPU per request (user / system) with the garbage
// collections of each window; one CPU profile per server (self time per function, the whole process: Node's HTTP and
// Express included); deoptimisations after warm-up (--trace-deopt); whether req/res keep one hidden class; whether a
// read's response methods were wrapped. `BENCH_PROFILE_VARIANTS=bare,noop,coatcheck` picks the servers.

export const PROFILES = fileURLToPath(new URL('./results/profiles/', import.meta.url))
const exec = promisify(execFile)

/** `count` GET /me requests from 10 concurrent keep-alive loops; throws on any answer but 200. */
async function hammer(url: string, cookie: string, count: number): Promise<void> {
  let left = count
  const loop = async () => {
    while (left-- > 0) {
      const res = await fetch(`${url}/me`, { headers: { cookie } })
      await res.arrayBuffer()
      if (res.status !== 200) throw new Error(`${url}/me answered ${res.status}`)
    }
  }
  await Promise.all(Array.from({ length: 10 }, loop))
}

/**
 * User-space instructions per request under callgrind, which counts instead of timing: the same figure whatever else
 * the machine is doing. Instrumentation is switched on only after a warm-up, for `requests` requests. Functions of
 * the Node binary (V8 runtime, builtins, llhttp, OpenSSL) are named; JIT-compiled JavaScript is not.
 */
export async function instructions(
  variant: Variant,
  warmup: number,
  requests: number,
  bench?: string,
  label: string = variant,
) {
  mkdirSync(PROFILES, { recursive: true })
  const out = `${PROFILES}${label}.callgrind`
  for (const f of readdirSync(PROFILES)) if (f.startsWith(`${label}.callgrind`)) rmSync(`${PROFILES}${f}`)
  const wrapper = ['valgrind', '--tool=callgrind', '--smc-check=all-non-file', '--instr-atstart=no']
  const server = await start(`${variant} (callgrind)`, {
    file: 'app',
    args: appArgs({ variant, backend: 'memory', rolling: false, where: '' }),
    wrapper: [...wrapper, `--callgrind-out-file=${out}`],
    ...(bench && { bench }),
  })
  try {
    const [cookie] = await login(server)
    await hammer(server.url, cookie!, warmup)
    await exec('callgrind_control', ['-i', 'on', String(server.pid)])
    await hammer(server.url, cookie!, requests)
    await exec('callgrind_control', ['-i', 'off', String(server.pid)])
    await exec('callgrind_control', ['-d', String(server.pid)])
  } finally {
    await server.stop()
  }
  const dump = `${out}.1`
  const { stdout } = await exec('callgrind_annotate', ['--inclusive=no', '--threshold=100', dump], {
    maxBuffer: 64 << 20,
  })
  const byFunction = new Map<string, number>()
  let total = 0
  for (const line of stdout.split('\n')) {
    const m = /^\s*([\d,]+) \([\s\d.]+%\)\s+(.*)$/.exec(line)
    if (!m) continue
    const ir = Number(m[1]!.replaceAll(',', ''))
    if (m[2] === 'PROGRAM TOTALS') {
      total = ir
      continue
    }
    const name = m[2]!.endsWith('[???]')
      ? 'JIT-compiled JavaScript (unattributed)'
      : m[2]!
          .replace(/^\?\?\?:/, '')
          .replace(/ \[[^\]]*\]$/, '')
          .replace(/\(.*\)( const)?$/, '()')
    byFunction.set(name, (byFunction.get(name) ?? 0) + ir / requests)
  }
  return { variant: label, requests, instructionsPerRequest: total / requests, byFunction }
}

export interface Window {
  variant: string
  round: number
  requests: number
  cpuUs: number
  userUs: number
  systemUs: number
  reqPerSec: number
  gc: Collections
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[]
  samples: number[]
  startTime: number
  endTime: number
}

/** Self time per function in µs per request, and the same by area (Node internals, Express, coatcheck...). */
function selfTimes(file: string, requests: number) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const perSample = (profile.endTime - profile.startTime) / profile.samples.length
  const byFunction = new Map<string, number>()
  const byArea = new Map<string, number>()
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0
    if (hits === 0) continue
    const { functionName, url, lineNumber } = node.callFrame
    const where = url.replace(/^file:\/\/.*?\/(node_modules|src|bench)\//, '$1/').replace(/^node:internal\//, 'node:')
    const key = `${functionName || '(anonymous)'} ${where ? `${where}:${lineNumber + 1}` : ''}`.trim()
    const us = (hits * perSample) / requests
    byFunction.set(key, (byFunction.get(key) ?? 0) + us)
    byArea.set(area(functionName, url), (byArea.get(area(functionName, url)) ?? 0) + us)
  }
  return { byFunction, byArea }
}

function area(name: string, url: string): string {
  if (name.startsWith('(')) return name
  if (url === '') return 'V8/native builtins'
  if (url.startsWith('node:'))
    return url.includes('http')
      ? 'node:http'
      : url.includes('net') || url.includes('stream')
        ? 'node:net/streams'
        : 'node: other'
  if (url.includes('/node_modules/')) return url.match(/node_modules\/((@[^/]+\/)?[^/]+)/)?.[1] ?? 'node_modules'
  if (url.includes('/src/')) return 'coatcheck (src/)'
  return 'app (bench/)'
}

export async function login(server: Running): Promise<string[]> {
  if (!server.name.startsWith('coatcheck')) return Array.from({ length: 10 }, () => BARE_COOKIE)
  const res = await fetch(`${server.url}/login`, { method: 'POST' })
  const cookie = res.headers.getSetCookie()[0]!.split(';', 1)[0]!
  const me = await (await fetch(`${server.url}/me`, { headers: { cookie } })).text()
  if (me !== ME_BODY) throw new Error(`${server.name}: /me answered ${me}`)
  return Array.from({ length: 10 }, () => cookie)
}

export async function window(server: Running, variant: string, load: Load, round: number): Promise<Window> {
  await server.ask({ type: 'gc-start' })
  const before = server.procCpu()
  const result = await drive(server.url, load)
  const cpu = cpuDelta(server.procCpu(), before)
  const reply = await server.ask({ type: 'gc-stop' })
  if (reply.type !== 'gc') throw new Error(`${server.name} answered ${reply.type} to gc-stop`)
  const n = result.requests
  return {
    variant,
    round,
    requests: n,
    cpuUs: cpu.total / n,
    userUs: cpu.user / n,
    systemUs: cpu.system / n,
    reqPerSec: n / result.seconds,
    gc: reply.gc,
  }
}

/** Deopts after warm-up and hidden-class changes, from a server run with --trace-deopt and natives syntax. */
async function deopts(variant: Variant, load: Omit<Load, 'cookies'>, warmup: number) {
  let out = ''
  const args = appArgs({ variant, backend: 'memory', rolling: false, where: '' })
  const server = await start(`${variant} (deopt)`, {
    file: 'app',
    args,
    execArgv: ['--trace-deopt', '--allow-natives-syntax'],
    env: { BENCH_PROBE: '1' },
    stdout: (chunk) => {
      out += chunk
    },
  })
  try {
    const cookies = await login(server)
    await drive(server.url, { ...load, cookies, seconds: warmup })
    const mark = out.length
    const before = await server.ask({ type: 'probe' })
    const result = await drive(server.url, { ...load, cookies })
    const after = await server.ask({ type: 'probe' })
    if (before.type !== 'probe' || after.type !== 'probe') throw new Error('probe did not answer')
    const delta = (name: string) => (after.counts[name] ?? 0) - (before.counts[name] ?? 0)
    const lines = out.slice(mark).split('\n')
    const deopted = lines.filter((l) => l.includes('bailout (kind:') || l.includes('deoptimizing'))
    const functions = [...new Set(deopted.map((l) => /<JSFunction ([^ >]+)/.exec(l)?.[1]).filter(Boolean))]
    return {
      variant,
      requests: result.requests,
      deoptsAfterWarmup: deopted.length,
      deoptedFunctions: functions.slice(0, 20),
      responses: delta('responses'),
      wrapped: delta('wrapped'),
      reqShapeChanged: delta('reqShapeChanged'),
      resShapeChanged: delta('resShapeChanged'),
    }
  } finally {
    await server.stop()
  }
}

export async function profile(quick = false): Promise<void> {
  const began = performance.now()
  const variants = (process.env.BENCH_PROFILE_VARIANTS ?? 'bare,noop,coatcheck').split(',') as Variant[]
  const duration = Math.round(seconds('BENCH_DURATION', quick ? 2 : 5))
  const rounds = Math.round(seconds('BENCH_ROUNDS', quick ? 3 : 6))
  const base = { method: 'GET', path: '/me', connections: 10 } as const
  mkdirSync(PROFILES, { recursive: true })
  const servers: [Variant, Running, string[]][] = []
  const windows: Window[] = []
  const profiles = new Map<Variant, ReturnType<typeof selfTimes>>()
  try {
    for (const variant of variants) {
      const args = appArgs({ variant, backend: 'memory', rolling: false, where: '' })
      const server = await start(variant, { file: 'app', args })
      servers.push([variant, server, await login(server)])
    }
    for (const [, server, cookies] of servers) await drive(server.url, { ...base, cookies, seconds: 3 })
    for (let round = 0; round < rounds; round++) {
      for (const [variant, server, cookies] of round % 2 === 0 ? servers : [...servers].reverse()) {
        const w = await window(server, variant, { ...base, cookies, seconds: duration }, round)
        windows.push(w)
        console.error(
          `${variant} round ${round + 1}: ${w.cpuUs.toFixed(1)} µs CPU/req (user ${w.userUs.toFixed(1)}, sys ` +
            `${w.systemUs.toFixed(1)}), ${Math.round(w.reqPerSec)} req/s, ${(w.gc.allocatedBytes / w.requests) | 0} B ` +
            `allocated/req, ${((w.gc.scavenges / w.requests) * 1e4).toFixed(1)} scavenges/10k`,
        )
      }
    }
    for (const [variant, server, cookies] of servers) {
      const file = `${PROFILES}${variant}-read.cpuprofile`
      await server.ask({ type: 'prof-start' })
      const result = await drive(server.url, { ...base, cookies, seconds: duration })
      await server.ask({ type: 'prof-stop', file })
      profiles.set(variant, selfTimes(file, result.requests))
    }
  } finally {
    await Promise.all(servers.map(([, server]) => server.stop()))
  }
  const checks = []
  for (const variant of variants) checks.push(await deopts(variant, { ...base, seconds: duration }, 3))

  const per = (variant: Variant, pick: (w: Window) => number) =>
    median(windows.filter((w) => w.variant === variant).map(pick))
  const rows = variants.map((v) => [
    v,
    fixed(
      per(v, (w) => w.cpuUs),
      1,
    ),
    fixed(
      per(v, (w) => w.userUs),
      1,
    ),
    fixed(
      per(v, (w) => w.systemUs),
      1,
    ),
    fixed(per(v, (w) => w.reqPerSec)),
    fixed(per(v, (w) => w.gc.allocatedBytes / w.requests)),
    fixed(
      per(v, (w) => (w.gc.scavenges / w.requests) * 1e4),
      1,
    ),
    fixed(
      per(v, (w) => (w.gc.markSweeps / w.requests) * 1e4),
      2,
    ),
    fixed(
      per(v, (w) => w.gc.pauseUs / w.requests),
      2,
    ),
  ])
  const head = ['server', 'µs CPU/req', 'user', 'sys', 'req/s', 'B allocated/req', 'scavenges/10k', 'mark-sweeps/10k']
  console.log(`\nMedians of ${rounds} alternated rounds of ${duration} s, GET /me, 10 connections:\n`)
  console.log(table([...head, 'GC pause µs/req'], rows))

  const [reference, subject] = [variants.includes('noop') ? 'noop' : variants[0]!, 'coatcheck'] as const
  const a = profiles.get(reference)
  const b = profiles.get(subject)
  let diff: { key: string; reference: number; subject: number }[] = []
  if (a && b) {
    const areas = [...new Set([...a.byArea.keys(), ...b.byArea.keys()])].map((key) => ({
      key,
      reference: a.byArea.get(key) ?? 0,
      subject: b.byArea.get(key) ?? 0,
    }))
    areas.sort((x, y) => y.subject - y.reference - (x.subject - x.reference))
    console.log(`\nCPU profile, main thread self time by area, µs per request (${reference} → ${subject}):\n`)
    console.log(
      table(
        ['area', reference, subject, 'extra'],
        areas.map((x) => [x.key, fixed(x.reference, 2), fixed(x.subject, 2), fixed(x.subject - x.reference, 2)]),
      ),
    )
    diff = [...new Set([...a.byFunction.keys(), ...b.byFunction.keys()])].map((key) => ({
      key,
      reference: a.byFunction.get(key) ?? 0,
      subject: b.byFunction.get(key) ?? 0,
    }))
    diff.sort((x, y) => y.subject - y.reference - (x.subject - x.reference))
    console.log(`\nFunctions with the most extra self time (µs per request, ${reference} → ${subject}):\n`)
    console.log(
      table(
        ['function', reference, subject, 'extra'],
        diff
          .slice(0, 30)
          .map((x) => [`\`${x.key}\``, fixed(x.reference, 2), fixed(x.subject, 2), fixed(x.subject - x.reference, 2)]),
      ),
    )
  }
  console.log('\nAfter warm-up (one window per server, with --trace-deopt and --allow-natives-syntax):\n')
  console.log(
    table(
      ['server', 'requests', 'deopts', 'responses wrapped', 'req shape changed', 'res shape changed', 'deopted'],
      checks.map((c) => [
        c.variant,
        String(c.requests),
        String(c.deoptsAfterWarmup),
        `${c.wrapped} of ${c.responses}`,
        String(c.reqShapeChanged),
        String(c.resShapeChanged),
        c.deoptedFunctions.join(', ') || '—',
      ]),
    ),
  )
  const counted = []
  if (process.env.BENCH_CALLGRIND !== '0') {
    const [warm, measured] = quick ? [2000, 1000] : [5000, 2000]
    for (const variant of variants) counted.push(await instructions(variant, warm, measured))
    const ref = counted.find((c) => c.variant === reference) ?? counted[0]!
    console.log(`\nUser-space instructions per request under callgrind (${measured} requests after ${warm}):\n`)
    console.log(
      table(
        ['server', 'instructions/req', `over ${ref.variant}`],
        counted.map((c) => [
          c.variant,
          fixed(c.instructionsPerRequest),
          fixed(c.instructionsPerRequest - ref.instructionsPerRequest),
        ]),
      ),
    )
    const sub = counted.find((c) => c.variant === subject)
    if (sub && sub !== ref) {
      const names = [...new Set([...ref.byFunction.keys(), ...sub.byFunction.keys()])]
      const rows = names
        .map((name) => ({ name, a: ref.byFunction.get(name) ?? 0, b: sub.byFunction.get(name) ?? 0 }))
        .sort((x, y) => Math.abs(y.b - y.a) - Math.abs(x.b - x.a))
        .slice(0, 30)
      console.log(`\nNative functions whose instructions/request differ most (${ref.variant} → ${subject}):\n`)
      console.log(
        table(
          ['function', ref.variant, subject, 'difference'],
          rows.map((r) => [`\`${r.name.slice(0, 110)}\``, fixed(r.a), fixed(r.b), fixed(r.b - r.a)]),
        ),
      )
    }
  }
  await save('profile', began, {
    windows,
    checks,
    diff: diff.slice(0, 100),
    instructions: counted.map((c) => ({
      variant: c.variant,
      instructionsPerRequest: c.instructionsPerRequest,
      top: [...c.byFunction].sort((a, b) => b[1] - a[1]).slice(0, 60),
    })),
  })
}
