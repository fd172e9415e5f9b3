import { execFile, execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { promisify } from 'node:util'

// Where processes run: the app server alone on core 0; the load generator and the database servers on core 1. On a
// 2-core machine this keeps the measured process from sharing its core with the load that drives it.

export const SERVER_CORE = 0
export const LOAD_CORE = 1
const run = promisify(execFile)

let usable: boolean | undefined
/** True when `taskset` exists and this machine has a second core to pin to. */
export function canPin(): boolean {
  if (usable === undefined) {
    try {
      execFileSync('taskset', ['-c', String(LOAD_CORE), 'true'], { stdio: 'ignore' })
      usable = availableParallelism() > LOAD_CORE
    } catch {
      usable = false
    }
  }
  return usable
}

/** Pins every thread of `pid` to `core` (threads it starts later inherit it); nothing when pinning is not possible. */
export async function pin(pid: number, core: number): Promise<void> {
  if (canPin()) await run('taskset', ['-a', '-p', '-c', String(core), String(pid)])
}

/** The parent of `pid`, from /proc (PostgreSQL's backends are children of the postmaster). */
export function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
}

/** The command and arguments that run `command` on the load generator's core. */
export function onLoadCore(command: string, args: string[]): [string, string[]] {
  return canPin() ? ['taskset', ['-c', String(LOAD_CORE), command, ...args]] : [command, args]
}
