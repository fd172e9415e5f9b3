import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { requireBinary } from './binaries.ts'

const run = promisify(execFile)

/** A throwaway redis-server on 127.0.0.1, started by the test and stopped by PID. */
export interface RedisServer {
  port: number
  url: string
  /** The server's working directory (AOF files live here); removed by `stop()`. */
  dir: string
  /** SIGTERM, wait for the exit, remove the temp dir. Idempotent. */
  stop(): Promise<void>
  /** SIGKILL, as a crash would; the dir is kept so `restart()` finds the AOF. */
  kill(): Promise<void>
  /** Starts the server again on the same port and dir (stopping it first, gracefully, if it runs). */
  restart(): Promise<void>
}

export interface RedisOptions {
  /** Append-only file with `appendfsync always`, so a SIGKILL loses nothing. Default false. */
  appendonly?: boolean
  /** Working directory. Default a new temp dir. */
  dir?: string
  /** Port. Default a free one. */
  port?: number
  /** More `redis-server` arguments. */
  args?: string[]
}

const running = new Set<ChildProcess>()
// A test process that dies without its after hooks still takes its servers with it.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

async function portIsFree(port: number): Promise<boolean> {
  const server = createServer()
  server.listen(port, '127.0.0.1')
  try {
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e))])
  } catch {
    return false
  }
  server.close()
  await once(server, 'close')
  return true
}

/** A free loopback port; with `clusterBus`, one below 55535 whose cluster bus port (port + 10000) is free too. */
export async function freePort(clusterBus = false): Promise<number> {
  for (;;) {
    const server = createServer().listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as { port: number }
    server.close()
    await once(server, 'close')
    if (!clusterBus) return port
    if (port < 55535 && (await portIsFree(port + 10_000))) return port
  }
}

function cli(port: number, ...args: string[]) {
  return run(requireBinary('redis-cli', 'redis-tools'), ['-h', '127.0.0.1', '-p', String(port), ...args], {
    timeout: 10_000,
  })
}

async function waitFor(what: string, check: () => Promise<boolean>, child?: ChildProcess, timeout = 15_000) {
  const deadline = Date.now() + timeout
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}) before ${what}`)
    if (await check().catch(() => false)) return
    await sleep(25)
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Starts `redis-server` (apt-installed when missing and allowed) and resolves once it answers PING. */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const binary = requireBinary('redis-server', 'redis-server')
  const ownDir = options.dir === undefined
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'coatcheck-redis-'))
  const port = options.port ?? (await freePort())
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, '--daemonize', 'no']
  if (options.appendonly) args.push('--appendonly', 'yes', '--appendfsync', 'always')
  args.push(...(options.args ?? []))
  let child: ChildProcess | undefined
  let stopped = false

  async function start() {
    const started = spawn(binary, args, { stdio: 'ignore' })
    child = started
    running.add(started)
    started.once('exit', () => running.delete(started))
    started.unref()
    await waitFor(`PING on port ${port}`, async () => (await cli(port, 'PING')).stdout.trim() === 'PONG', started)
  }

  async function end(signal: 'SIGTERM' | 'SIGKILL') {
    const current = child
    child = undefined
    if (current === undefined || current.exitCode !== null || current.signalCode !== null) return
    const exited = once(current, 'exit')
    process.kill(current.pid!, signal)
    await exited
  }

  await start()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    async stop() {
      if (stopped) return
      stopped = true
      await end('SIGTERM')
      if (ownDir) rmSync(dir, { recursive: true, force: true })
    },
    kill: () => end('SIGKILL'),
    async restart() {
      await end('SIGTERM')
      await start()
    },
  }
}

/** Three masters on loopback, slots spread across them, no replicas. */
export interface RedisCluster {
  nodes: RedisServer[]
  /** `{ host, port }` of every node, for `new Cluster(...)` / `createCluster({ rootNodes })`. */
  addresses: { host: string; port: number }[]
  stop(): Promise<void>
}

/** Starts a three-master Redis Cluster and resolves once every node reports `cluster_state:ok`. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const nodes: RedisServer[] = []
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()))
  }
  try {
    for (let i = 0; i < 3; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'coatcheck-redis-cluster-'))
      const clusterArgs = ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf')]
      const node = await startRedis({ dir, port: await freePort(true), args: clusterArgs })
      nodes.push({ ...node, stop: () => node.stop().then(() => rmSync(dir, { recursive: true, force: true })) })
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`)
    await cli(nodes[0]!.port, '--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes')
    for (const node of nodes) {
      await waitFor(`cluster_state:ok on ${node.port}`, async () =>
        (await cli(node.port, 'CLUSTER', 'INFO')).stdout.includes('cluster_state:ok'),
      )
    }
  } catch (error) {
    await stop()
    throw error
  }
  return { nodes, addresses: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })), stop }
}
