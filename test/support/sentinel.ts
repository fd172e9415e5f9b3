import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { requireBinary } from './binaries.ts'
import { freePort, type RedisServer, startRedis } from './redis.ts'

const run = promisify(execFile)

/** The name the Sentinels monitor the primary under. */
export const MASTER_NAME = 'coatcheck'

/** A primary, one replica and three Sentinels on loopback, each in its own temp dir, stopped by PID. */
export interface SentinelSetup {
  /** The master name to give clients (`name` in node-redis `createSentinel`, ioredis `sentinels`). */
  name: string
  /** Both data nodes, in start order: `nodes[0]` starts as the primary. Which is primary changes on failover. */
  nodes: RedisServer[]
  /** `{ host, port }` of every Sentinel. */
  sentinels: { host: string; port: number }[]
  /** The port of the primary as a majority of the Sentinels report it now. */
  primaryPort(): Promise<number>
  /** The node that is primary now. */
  primary(): Promise<RedisServer>
  /**
   * Resolves the new primary's port once the Sentinels report a primary other than `oldPort` and that node answers
   * `role:master`. Rejects after `timeout` ms.
   */
  failedOver(oldPort: number, timeout?: number): Promise<number>
  /** Stops the Sentinels and both nodes and removes their dirs. Idempotent. */
  stop(): Promise<void>
}

export interface SentinelOptions {
  /** How long a primary must be unreachable before a Sentinel counts it down, in ms. Default 1000. */
  downAfterMs?: number
  /** Sentinel's `failover-timeout`, in ms. Default 4000. */
  failoverTimeoutMs?: number
  /** More `redis-server` arguments for both data nodes (`--appendonly yes`, say). */
  nodeArgs?: string[]
}

const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

async function cli(port: number, ...args: string[]): Promise<string> {
  const binary = requireBinary('redis-cli', 'redis-tools')
  const { stdout } = await run(binary, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5000 })
  return stdout
}

/** `field:value` lines (INFO) or alternating lines (SENTINEL MASTER) as a map. */
function fields(text: string): Map<string, string> {
  const lines = text.split('\n').map((line) => line.trim())
  const map = new Map<string, string>()
  if (lines.some((line) => line.includes(':'))) {
    for (const line of lines) {
      const colon = line.indexOf(':')
      if (colon > 0) map.set(line.slice(0, colon), line.slice(colon + 1))
    }
  } else {
    for (let i = 0; i + 1 < lines.length; i += 2) map.set(lines[i]!, lines[i + 1]!)
  }
  return map
}

async function waitFor(what: string, check: () => Promise<boolean>, timeout = 20_000): Promise<void> {
  const deadline = Date.now() + timeout
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return
    await sleep(50)
  }
  throw new Error(`timed out waiting for ${what}`)
}

interface Sentinel {
  port: number
  child: ChildProcess
  dir: string
}

async function startSentinel(primaryPort: number, options: Required<Omit<SentinelOptions, 'nodeArgs'>>) {
  const binary = requireBinary('redis-sentinel', 'redis-sentinel')
  const dir = mkdtempSync(join(tmpdir(), 'coatcheck-sentinel-'))
  const port = await freePort()
  const config = join(dir, 'sentinel.conf')
  // Sentinel rewrites its config file as it learns the topology, so the file lives in the sentinel's own dir.
  writeFileSync(
    config,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      'daemonize no',
      `dir ${dir}`,
      `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primaryPort} 2`,
      `sentinel down-after-milliseconds ${MASTER_NAME} ${options.downAfterMs}`,
      `sentinel failover-timeout ${MASTER_NAME} ${options.failoverTimeoutMs}`,
      `sentinel parallel-syncs ${MASTER_NAME} 1`,
      '',
    ].join('\n'),
  )
  const child = spawn(binary, [config], { stdio: 'ignore' })
  running.add(child)
  child.once('exit', () => running.delete(child))
  child.unref()
  await waitFor(`Sentinel on ${port}`, async () => (await cli(port, 'PING')).trim() === 'PONG')
  return { port, child, dir }
}

async function stopSentinel(sentinel: Sentinel): Promise<void> {
  const { child } = sentinel
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit')
    process.kill(child.pid!, 'SIGTERM')
    await exited
  }
  rmSync(sentinel.dir, { recursive: true, force: true })
}

/**
 * Starts a primary, a replica of it and three Sentinels (quorum 2), and resolves once every Sentinel knows the
 * replica and the two other Sentinels, so a failover can start as soon as the primary is down.
 */
export async function startSentinels(options: SentinelOptions = {}): Promise<SentinelSetup> {
  const settings = { downAfterMs: options.downAfterMs ?? 1000, failoverTimeoutMs: options.failoverTimeoutMs ?? 4000 }
  const nodes: RedisServer[] = []
  const sentinels: Sentinel[] = []
  let stopped: Promise<void> | undefined
  const stop = () => {
    stopped ??= (async () => {
      await Promise.all(sentinels.map(stopSentinel))
      await Promise.all(nodes.map((node) => node.stop()))
    })()
    return stopped
  }
  try {
    const args = options.nodeArgs ?? []
    const primary = await startRedis({ args })
    nodes.push(primary)
    const replica = await startRedis({ args: [...args, '--replicaof', '127.0.0.1', String(primary.port)] })
    nodes.push(replica)
    await waitFor('the replica to sync', async () => {
      return fields(await cli(replica.port, 'INFO', 'replication')).get('master_link_status') === 'up'
    })
    for (let i = 0; i < 3; i++) sentinels.push(await startSentinel(primary.port, settings))
    for (const sentinel of sentinels) {
      await waitFor(`Sentinel ${sentinel.port} to see the replica and its peers`, async () => {
        const master = fields(await cli(sentinel.port, 'SENTINEL', 'MASTER', MASTER_NAME))
        return master.get('num-slaves') === '1' && master.get('num-other-sentinels') === '2'
      })
    }
  } catch (error) {
    await stop()
    throw error
  }

  async function primaryPort(): Promise<number> {
    const votes = new Map<number, number>()
    for (const sentinel of sentinels) {
      if (sentinel.child.exitCode !== null) continue
      const reply = await cli(sentinel.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME).catch(() => '')
      const port = Number(reply.trim().split('\n')[1])
      if (Number.isInteger(port)) votes.set(port, (votes.get(port) ?? 0) + 1)
    }
    const [best] = [...votes].sort((a, b) => b[1] - a[1])
    if (!best || best[1] < 2) throw new Error(`the Sentinels disagree on the primary: ${JSON.stringify([...votes])}`)
    return best[0]
  }

  return {
    name: MASTER_NAME,
    nodes,
    sentinels: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
    primaryPort,
    async primary() {
      const port = await primaryPort()
      return nodes.find((node) => node.port === port)!
    },
    async failedOver(oldPort, timeout = 30_000) {
      let next = oldPort
      await waitFor(
        `a new primary in place of ${oldPort}`,
        async () => {
          next = await primaryPort()
          if (next === oldPort) return false
          return fields(await cli(next, 'INFO', 'replication')).get('role') === 'master'
        },
        timeout,
      )
      return next
    },
    stop,
  }
}
