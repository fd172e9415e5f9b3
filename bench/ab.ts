import { appArgs, type Variant } from './app-shape.ts'
import { fixed, median, save, seconds, table } from './common.ts'
import type { Load } from './load.ts'
import { drive } from './load.ts'
import { instructions, login, type Window, window } from './profile.ts'
import { type Running, start } from './servers.ts'

// `BENCH_AB=/path/to/other/worktree npm run bench -- ab`: the memory read (rolling off and on) of coatcheck from this
// tree (A) against the same server from another tree (B: a worktree with a patch applied, say), with bare Express from
// this tree in the same alternated rounds; then instructions per request under callgrind (`BENCH_CALLGRIND=0` skips).
// The other tree needs this bench/ directory and node_modules (a symlink will do).

interface Player {
  label: string
  variant: Variant
  bench?: string
  rolling: boolean
}

export async function ab(quick = false): Promise<void> {
  const other = process.env.BENCH_AB
  if (!other) throw new TypeError('BENCH_AB must name the other tree (a directory with bench/ and src/)')
  const began = performance.now()
  const duration = Math.round(seconds('BENCH_DURATION', quick ? 2 : 5))
  const rounds = Math.round(seconds('BENCH_ROUNDS', quick ? 3 : 6))
  // BENCH_AB_WRITE=1: the write (POST /cart, rolling off) instead of the two reads, and no callgrind (it drives GET).
  const write = process.env.BENCH_AB_WRITE === '1'
  const what = write ? 'write' : 'read'
  const players: Player[] = [
    { label: 'bare', variant: 'bare', rolling: false },
    { label: `A ${what}`, variant: 'coatcheck', rolling: false },
    { label: `B ${what}`, variant: 'coatcheck', bench: `${other}/bench`, rolling: false },
    ...(write
      ? []
      : [
          { label: 'A rolling read', variant: 'coatcheck', rolling: true } as const,
          { label: 'B rolling read', variant: 'coatcheck', bench: `${other}/bench`, rolling: true } as const,
        ]),
  ]
  const base = write
    ? ({ method: 'POST', path: '/cart', connections: 10 } as const)
    : ({ method: 'GET', path: '/me', connections: 10 } as const)
  const running: [Player, Running, string[]][] = []
  const windows: Window[] = []
  try {
    for (const p of players) {
      const args = appArgs({ variant: p.variant, backend: 'memory', rolling: p.rolling, where: '' })
      const server = await start(p.variant === 'coatcheck' ? `coatcheck ${p.label}` : p.label, {
        file: 'app',
        args,
        ...(p.bench && { bench: p.bench }),
      })
      running.push([p, server, await login(server)])
    }
    for (const [, server, cookies] of running) await drive(server.url, { ...base, cookies, seconds: 3 })
    for (let round = 0; round < rounds; round++) {
      for (const [p, server, cookies] of round % 2 === 0 ? running : [...running].reverse()) {
        const load: Load = { ...base, cookies, seconds: duration }
        const w = await window(server, p.label, load, round)
        windows.push(w)
        console.error(
          `${p.label} round ${round + 1}: ${w.cpuUs.toFixed(1)} µs CPU/req, ${Math.round(w.reqPerSec)} req/s`,
        )
      }
    }
  } finally {
    await Promise.all(running.map(([, server]) => server.stop()))
  }
  const counted = new Map<string, number>()
  if (process.env.BENCH_CALLGRIND !== '0' && !write) {
    const [warm, measured] = quick ? [2000, 1000] : [5000, 2000]
    for (const p of players.filter((x) => !x.rolling)) {
      const c = await instructions(p.variant, warm, measured, p.bench, p.label.replace(' ', '-'))
      counted.set(p.label, c.instructionsPerRequest)
    }
  }
  const per = (label: string, pick: (w: Window) => number) =>
    median(windows.filter((w) => w.variant === label).map(pick))
  const bare = per('bare', (w) => w.cpuUs)
  const rows = players.map((p) => {
    const cpu = per(p.label, (w) => w.cpuUs)
    const cpus = windows.filter((w) => w.variant === p.label).map((w) => w.cpuUs)
    return [
      p.label,
      fixed(cpu, 1),
      `${fixed(
        per(p.label, (w) => w.userUs),
        1,
      )} / ${fixed(
        per(p.label, (w) => w.systemUs),
        1,
      )}`,
      `${fixed(Math.min(...cpus), 1)}–${fixed(Math.max(...cpus), 1)}`,
      fixed(per(p.label, (w) => w.reqPerSec)),
      fixed(cpu - bare, 1),
      `${fixed(bare / cpu, 2)}x`,
      fixed(per(p.label, (w) => w.gc.allocatedBytes / w.requests)),
      fixed(
        per(p.label, (w) => (w.gc.scavenges / w.requests) * 1e4),
        1,
      ),
      counted.has(p.label) ? fixed(counted.get(p.label)) : '—',
    ]
  })
  const head = ['server', 'µs CPU/req', 'user / sys', 'range', 'req/s', 'over bare µs', 'bare ÷ it']
  const request = `${base.method} ${base.path}`
  console.log(`\nA = this tree, B = ${other}. Medians of ${rounds} alternated rounds of ${duration} s, ${request}:\n`)
  console.log(table([...head, 'B alloc/req', 'scavenges/10k', 'instructions/req'], rows))
  await save('ab', began, { other, windows, instructions: Object.fromEntries(counted) })
}
