import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { postgresBinDirs, requireBinary } from './binaries.ts'

/** A throwaway PostgreSQL server on 127.0.0.1, its data in a temp dir. */
export interface RunningPostgres {
  port: number
  /** Superuser `postgres`, trust auth, database `postgres`. */
  connectionString: string
  /** Stops the server (fast shutdown) and removes its data. Safe to call twice. */
  stop(): Promise<void>
  /** Stops the server and starts it again on the same port and data: every open connection is dropped. */
  restart(): Promise<void>
}

/**
 * PostgreSQL refuses to run as root, and the tests run as root here and in CI. So when root, initdb and postgres
 * run as the `postgres` user the Debian package creates, in a temp dir handed over to that user.
 */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim())
    return { uid: id('-u'), gid: id('-g') }
  } catch {
    throw new Error(
      'PostgreSQL will not run as root and there is no `postgres` user; install postgresql, which adds it',
    )
  }
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Starts a fresh server: initdb into a temp dir, then postgres with durability off (tests need speed, not fsync). */
export async function startPostgres(): Promise<RunningPostgres> {
  const initdb = requireBinary('initdb', 'postgresql', postgresBinDirs)
  const postgres = requireBinary('postgres', 'postgresql', postgresBinDirs)
  const user = serverUser()
  const dir = mkdtempSync(join(tmpdir(), 'coatcheck-pg-'))
  const data = join(dir, 'data')
  mkdirSync(data, { mode: 0o700 })
  if (user) {
    chownSync(dir, user.uid, user.gid)
    chownSync(data, user.uid, user.gid)
  }
  const as = { cwd: dir, ...user, env: { ...process.env, LC_ALL: 'C', LANG: 'C' } }
  try {
    execFileSync(initdb, ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-locale', '--no-sync'], {
      ...as,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }

  const port = await freePort()
  const connectionString = `postgres://postgres@127.0.0.1:${port}/postgres`
  let child: ChildProcess | undefined
  let log = ''
  // A test process that dies without its after hooks must not leave a server or its files behind. SIGQUIT is
  // PostgreSQL's immediate shutdown; its lock file goes last, so wait (synchronously: the process is exiting) for it.
  const killOnExit = () => {
    if (child?.kill('SIGQUIT')) {
      const tick = new Int32Array(new SharedArrayBuffer(4))
      for (let i = 0; i < 150 && existsSync(join(data, 'postmaster.pid')); i++) Atomics.wait(tick, 0, 0, 20)
    }
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', killOnExit)

  async function start(): Promise<void> {
    log = ''
    const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1']
    for (const setting of ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off']) args.push('-c', setting)
    const server = spawn(postgres, args, { ...as, stdio: ['ignore', 'ignore', 'pipe'] })
    child = server
    server.stderr?.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000)
    })
    const exited = once(server, 'exit')
    const deadline = Date.now() + 30_000
    for (;;) {
      const client = new pg.Client({ connectionString, connectionTimeoutMillis: 1000 })
      client.on('error', () => {})
      try {
        await client.connect()
        await client.end()
        return
      } catch {
        await client.end().catch(() => {})
      }
      if (server.exitCode !== null || server.signalCode !== null || Date.now() > deadline) {
        server.kill('SIGKILL')
        await exited
        child = undefined
        throw new Error(`postgres did not start on port ${port}:\n${log}`)
      }
      await sleep(50)
    }
  }

  async function halt(): Promise<void> {
    const server = child
    if (!server || server.exitCode !== null || server.signalCode !== null) return
    const exited = once(server, 'exit')
    server.kill('SIGINT') // fast shutdown: aborts open transactions, closes every connection
    await exited
    child = undefined
  }

  try {
    await start()
  } catch (error) {
    process.off('exit', killOnExit)
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  return {
    port,
    connectionString,
    async stop() {
      await halt()
      process.off('exit', killOnExit)
      rmSync(dir, { recursive: true, force: true })
    },
    async restart() {
      await halt()
      await start()
    },
  }
}
