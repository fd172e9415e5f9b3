import { loginBench as login } from './login.ts'
import { read } from './read.ts'
import { revoke } from './revoke.ts'
import { stopAll } from './servers.ts'
import { stores } from './stores.ts'

// `npm run bench [-- read|stores|revoke|login|all]`: the quick read benchmark unless told otherwise.
const BENCHES = { read, stores, revoke, login } as const
type Bench = keyof typeof BENCHES

function selected(args: string[]): Bench[] {
  if (args.length === 0) return ['read']
  if (args.includes('all')) return Object.keys(BENCHES) as Bench[]
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

try {
  for (const name of selected(process.argv.slice(2))) {
    console.log(`\n## ${name}\n`)
    await BENCHES[name]()
  }
} catch (error) {
  // A failed request makes every figure meaningless; a missed target does not fail the run.
  console.error(`\nbench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  process.exitCode = 1
} finally {
  await stopAll()
}
