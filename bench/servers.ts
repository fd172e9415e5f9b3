import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import type { FromServer, ToServer } from './servers/serve.ts'

/** The servers of the read benchmark, by file name in `bench/servers/`. */
export const SERVERS = ['bare', 'bare-middleware', 'express-session', 'coatcheck'] as const
export type ServerName = (typeof SERVERS)[number]

/** A bench server running in its own child process. */
export interface Running {
  /** What the tables call it. */
  name: string
  url: string
  /** The child's CPU time so far (user + system), in µs. */
  cpu(): Promise<number>
  /** Sends one message and resolves the child's reply. */
  ask(message: ToServer): Promise<FromServer>
  /** Ends the child (SIGTERM, then SIGKILL after a grace period). Safe to call twice. */
  stop(): Promise<void>
}

/** Which file a server runs and what it is told on its command line. */
export interface StartOptions {
  /** File name in `bench/servers/`, without `.ts`. Default `name`. */
  file?: string
  args?: string[]
}

const started = new Set<ChildProcess>()

/**
 * Forks `bench/servers/<file>.ts` with this same Node binary and waits until it reports its port. With
 * `BENCH_PROFILE=1` each child writes a `--cpu-prof` profile to `bench/results/profiles/` when stopped.
 */
export async function start(name: string, { file = name, args = [] }: StartOptions = {}): Promise<Running> {
  const execArgv = process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=bench/results/profiles'] : []
  const child = fork(new URL(`./servers/${file}.ts`, import.meta.url), args, {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  started.add(child)
  const port = await new Promise<number>((resolve, reject) => {
    const early = (code: number | null) => reject(new Error(`${name} server exited before listening (code ${code})`))
    child.once('exit', early)
    child.once('message', (message: FromServer) => {
      child.off('exit', early)
      if (message.type === 'listening') resolve(message.port)
      else reject(new Error(`${name} server sent ${message.type} before listening`))
    })
  })

  const ask = async (message: ToServer) => {
    child.send(message)
    const [reply] = (await once(child, 'message')) as [FromServer]
    return reply
  }
  const cpu = async () => {
    const reply = await ask({ type: 'cpu' })
    if (reply.type !== 'cpu') throw new Error(`${name} server answered ${reply.type} to a CPU question`)
    return reply.usage.user + reply.usage.system
  }
  return { name, url: `http://127.0.0.1:${port}`, cpu, ask, stop: () => stop(child) }
}

/** Stops every child this module started; for `finally` blocks and signal handlers. */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map(stop))
}

async function stop(child: ChildProcess): Promise<void> {
  started.delete(child)
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  // A child stuck in a hot loop never runs its SIGTERM handler; do not let it outlive the run.
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000)
  await exited
  clearTimeout(timer)
}
