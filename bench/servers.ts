import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { pathToFileURL } from 'node:url'
import { pin, SERVER_CORE } from './cores.ts'
import { type ProcessCpu, processCpu } from './cpu.ts'
import type { FromServer, ToServer } from './servers/serve.ts'

/** A bench server running in its own child process. */
export interface Running {
  /** What the tables call it. */
  name: string
  url: string
  pid: number
  /** The child's CPU time so far (user + system, every thread), in µs, as the child itself reports it. */
  cpu(): Promise<number>
  /** The child's CPU time so far read from /proc (every thread), without waking the child. */
  procCpu(): ProcessCpu
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
  /** More Node flags (`--cpu-prof`, `--trace-deopt`...). */
  execArgv?: string[]
  env?: Record<string, string>
  /** Another tree's `bench/` directory to run the server from (an A/B of two versions of `src/`). Default this one. */
  bench?: string
  /** A command the child runs under (`['valgrind', '--tool=callgrind', ...]`); Node and its flags follow it. */
  wrapper?: string[]
  /** Receives the child's stdout (otherwise shared with this process). */
  stdout?: (chunk: string) => void
}

const started = new Set<ChildProcess>()

/**
 * Forks `bench/servers/<file>.ts` with this same Node binary, waits until it reports its port, and pins it (every
 * thread) to the server's core when the machine allows. With `BENCH_PROFILE=1` each child writes a `--cpu-prof`
 * profile to `bench/results/profiles/` when stopped.
 */
export async function start(name: string, options: StartOptions = {}): Promise<Running> {
  const { file = name, args = [], env } = options
  const execArgv = [...(options.execArgv ?? [])]
  if (process.env.BENCH_PROFILE) execArgv.push('--cpu-prof', '--cpu-prof-dir=bench/results/profiles')
  const wrapper = options.wrapper
  const dir = options.bench === undefined ? new URL('.', import.meta.url) : pathToFileURL(`${options.bench}/`)
  const child = fork(new URL(`./servers/${file}.ts`, dir), args, {
    ...(wrapper && { execPath: wrapper[0] }),
    execArgv: wrapper ? [...wrapper.slice(1), process.execPath, ...execArgv] : execArgv,
    env: { ...process.env, ...env },
    stdio: ['ignore', options.stdout ? 'pipe' : 'inherit', 'inherit', 'ipc'],
  })
  if (options.stdout) child.stdout!.on('data', (chunk: Buffer) => options.stdout!(chunk.toString()))
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
  const pid = child.pid!
  await pin(pid, SERVER_CORE)

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
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    pid,
    cpu,
    procCpu: () => processCpu(pid),
    ask,
    stop: () => stop(child),
  }
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
