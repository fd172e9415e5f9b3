import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

/** CPU time a process has used so far, in µs. */
export interface ProcessCpu {
  /** Every thread's run time from `/proc/<pid>/task/<tid>/schedstat` (nanosecond resolution). */
  total: number
  /** User and system time from `/proc/<pid>/stat` (clock-tick resolution, every thread). */
  user: number
  system: number
}

let ticks: number | undefined
const tickUs = () => {
  ticks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  return 1e6 / ticks
}

/** User and system time of `pid` (all threads) from `/proc/<pid>/stat`, in µs. Throws when the process is gone. */
export function statCpu(pid: number): { user: number; system: number } {
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { user: Number(fields[11]) * tickUs(), system: Number(fields[12]) * tickUs() }
}

/** The CPU time of `pid` so far, read from /proc without disturbing it. */
export function processCpu(pid: number): ProcessCpu {
  let total = 0
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ', 1)[0]) / 1000
    } catch {
      // The thread ended between the listing and the read; a thread of a bench server lives as long as it does.
    }
  }
  return { total, ...statCpu(pid) }
}

/** `after - before`, field by field. */
export const cpuDelta = (after: ProcessCpu, before: ProcessCpu): ProcessCpu => ({
  total: after.total - before.total,
  user: after.user - before.user,
  system: after.system - before.system,
})

/** The machine's CPU time so far from /proc/stat, in clock ticks: all of it, and what the hypervisor stole. */
export function machineTicks(): { total: number; steal: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0)
  return { total, steal: fields[7] ?? 0 }
}
