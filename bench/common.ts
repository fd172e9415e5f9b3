import { mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'

/** A duration from the environment, in seconds, or `fallback` when unset. */
export function seconds(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!(value > 0)) throw new TypeError(`${name} must be a positive number of seconds, got ${JSON.stringify(raw)}`)
  return value
}

/** A markdown table; numbers are expected to be formatted by the caller. */
export function table(head: string[], rows: string[][], align?: string[]): string {
  const rule = align ?? head.map((_, i) => (i === 0 ? '---' : '---:'))
  return [head, rule, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n')
}

/** `value` with `digits` decimals, or a dash when there is nothing to show. */
export const fixed = (value: number | undefined, digits = 0) =>
  value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits)

/** Writes `bench/results/<name>.json` with the run's context, and says where. */
export async function save(name: string, began: number, body: Record<string, unknown>): Promise<void> {
  const file = new URL(`./results/${name}.json`, import.meta.url)
  await mkdir(new URL('.', file), { recursive: true })
  const wallSeconds = (performance.now() - began) / 1000
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    ...body,
    wallSeconds,
  }
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`)
  console.log(`\nWrote ${file.pathname} (${wallSeconds.toFixed(1)} s)`)
}

export const median = (values: number[]) => percentile(values, 50)

/** Nearest-rank percentile of `values` (not mutated). */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}
