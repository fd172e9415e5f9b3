import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { fixed, save, table } from './common.ts'

// Bytes per stored session in coatcheck's memoryStore against express-session's MemoryStore, at 100k and 1M
// sessions (`BENCH_MEMORY_SIZES`), anonymous and logged in. Each fill runs in its own process with --expose-gc, and
// reads every session back after storing it, so coatcheck's figure includes its cache of decoded records (full, at
// 1 024) and its typed-array columns (counted as `external`). Target (issue 13): at most express-session
// MemoryStore's bytes per session.

const run = promisify(execFile)
const FILL = fileURLToPath(new URL('./memory-fill.ts', import.meta.url))

interface Fill {
  impl: 'coatcheck' | 'express-session'
  kind: 'anonymous' | 'logged-in'
  count: number
  sessionJsonBytes: number
  heapBytesPerSession: number
  rssBytesPerSession: number
  fillSeconds: number
}

export async function memory(quick = false): Promise<void> {
  const began = performance.now()
  const sizes = (process.env.BENCH_MEMORY_SIZES ?? (quick ? '100000' : '100000,1000000')).split(',').map(Number)
  const fills: Fill[] = []
  for (const count of sizes) {
    for (const kind of ['anonymous', 'logged-in'] as const) {
      for (const impl of ['express-session', 'coatcheck'] as const) {
        const flags = ['--expose-gc', '--max-old-space-size=8192']
        const { stdout } = await run(process.execPath, [...flags, FILL, impl, kind, String(count)], {
          timeout: 600_000,
          maxBuffer: 1 << 20,
        })
        const fill = JSON.parse(stdout) as Fill
        fills.push(fill)
        console.error(`${impl} ${kind} ×${count}: ${Math.round(fill.heapBytesPerSession)} B/session (heap)`)
      }
    }
  }
  const rows = fills
    .filter((f) => f.impl === 'coatcheck')
    .map((c) => {
      const e = fills.find((f) => f.impl === 'express-session' && f.kind === c.kind && f.count === c.count)!
      return [
        String(c.count),
        c.kind,
        fixed(c.sessionJsonBytes),
        fixed(e.heapBytesPerSession),
        fixed(c.heapBytesPerSession),
        `${fixed(c.heapBytesPerSession / e.heapBytesPerSession, 2)}x`,
        `${fixed(e.rssBytesPerSession)} / ${fixed(c.rssBytesPerSession)}`,
      ]
    })
  const head = ['sessions', 'kind', 'session JSON B', 'express-session B/session', 'coatcheck B/session']
  console.log(
    `\nJS heap growth per stored session (after full GCs), Node ${process.version}. Target: coatcheck ≤ ` +
      'express-session MemoryStore.\n',
  )
  console.log(table([...head, 'coatcheck / express-session', 'RSS B/session es / cc'], rows))
  await save('memory', began, { fills })
}
