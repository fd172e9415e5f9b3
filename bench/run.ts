import { writeFile } from 'node:fs/promises'
import { ab } from './ab.ts'
import type { Backend } from './app-shape.ts'
import { BACKENDS } from './app-shape.ts'
import { storeCalls } from './calls.ts'
import { save, seconds } from './common.ts'
import { compare, SCENARIOS, type Scenario, type Settings } from './compare.ts'
import { flat } from './flat.ts'
import { loginBench as login } from './login.ts'
import { memory } from './memory.ts'
import { profile } from './profile.ts'
import { redisWrite } from './redis-write.ts'
import { render, updateReadme } from './report.ts'
import { revoke } from './revoke.ts'
import { stopAll } from './servers.ts'

// `npm run bench [-- --quick] [-- --readme] [compare|memory|redis-write|flat|profile|ab|revoke|login|all]`: the comparison unless told.
// `npm run bench:quick` is `--quick`: two scenarios, 1 s rounds, for development (under 2 minutes).

const list = <T extends string>(name: string, all: readonly T[], fallback: readonly T[]): T[] => {
  const raw = process.env[name]
  if (!raw) return [...fallback]
  const picked = raw.split(',') as T[]
  const unknown = picked.filter((x) => !all.includes(x))
  if (unknown.length > 0) throw new TypeError(`${name}: unknown ${unknown.join(', ')}; choose from ${all.join(', ')}`)
  return picked
}

function settings(quick: boolean): Settings {
  const scenarios = Object.keys(SCENARIOS) as Scenario[]
  return {
    backends: list<Backend>('BENCH_BACKENDS', BACKENDS, BACKENDS),
    scenarios: list<Scenario>('BENCH_SCENARIOS', scenarios, quick ? ['read', 'write'] : scenarios),
    only: { 'read-50': ['sqlite'] },
    connections: 10,
    warmup: Math.round(seconds('BENCH_WARMUP', quick ? 1 : 2)),
    // Many short alternated rounds rather than a few long ones: on a VM whose host steals CPU in bursts, every
    // variant then samples the same bursts.
    seconds: Math.round(seconds('BENCH_DURATION', quick ? 1 : 2)),
    rounds: Math.max(3, Math.round(seconds('BENCH_ROUNDS', quick ? 3 : 7))),
    noop: !quick,
  }
}

async function comparison(quick: boolean, readme: boolean): Promise<void> {
  const began = performance.now()
  const s = settings(quick)
  const calls = await storeCalls(s.scenarios)
  const result = await compare(s)
  const rendered = render(result)
  rendered.markdown += `\n\n### Store calls per request (memory stores, counted)\n\n${calls.markdown}`
  console.log(`\n${rendered.markdown}`)
  const name = quick ? 'quick' : 'latest'
  const { summaries, ratios, goals, noisy } = rendered
  await save(name, began, { ...result, summaries, ratios, targets: goals, noisy, storeCalls: calls.calls })
  await writeFile(new URL(`./results/${name}.md`, import.meta.url), `${rendered.markdown}\n`)
  if (readme && !quick && updateReadme(rendered.markdown, noisy)) console.error('bench: README updated')
  if (result.failures.length > 0) process.exitCode = 1
}

const BENCHES = { compare: comparison, memory, 'redis-write': redisWrite, flat, profile, ab, revoke, login } as const
type Bench = keyof typeof BENCHES

function selected(args: string[]): Bench[] {
  if (args.length === 0) return ['compare']
  if (args.includes('all')) return ['compare', 'memory', 'redis-write', 'flat', 'profile', 'revoke', 'login']
  const unknown = args.filter((arg) => !(arg in BENCHES))
  if (unknown.length > 0) {
    throw new TypeError(`unknown bench ${unknown.join(', ')}; choose from ${Object.keys(BENCHES).join(', ')} or all`)
  }
  return args as Bench[]
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void stopAll().finally(() => process.exit(130))
  })
}

const argv = process.argv.slice(2)
const quick = argv.includes('--quick')
const readme = argv.includes('--readme')
try {
  for (const name of selected(argv.filter((a) => !a.startsWith('--')))) {
    console.log(`\n## ${name}\n`)
    await BENCHES[name](quick, readme)
  }
} catch (error) {
  // A failed request makes every figure meaningless; a missed target does not fail the run.
  console.error(`\nbench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  process.exitCode = 1
} finally {
  await stopAll()
}
