import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { requireBinary } from '../support/binaries.ts'
import { freePort, type RedisServer, startRedis } from '../support/redis.ts'

const run = promisify(execFile)

async function cli(port: number, ...args: string[]): Promise<string> {
  const binary = requireBinary('redis-cli', 'redis-tools')
  return (await run(binary, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 })).stdout
}

/** Three masters with one replica each, on loopback; a master unreachable for `nodeTimeoutMs` is failed over. */
export interface ReplicatedCluster {
  nodes: RedisServer[]
  addresses: { host: string; port: number }[]
  /** The ports of the masters now, as `port` sees the cluster. */
  masters(port?: number): Promise<number[]>
  /** Resolves once a node other than `dead` reports `cluster_state:ok` and `dead` is no longer a master. */
  failedOver(dead: number, timeout?: number): Promise<void>
  stop(): Promise<void>
}

async function waitFor(what: string, check: () => Promise<boolean>, timeout: number): Promise<void> {
  const deadline = Date.now() + timeout
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return
    await sleep(50)
  }
  throw new Error(`timed out waiting for ${what}`)
}

/**
 * Starts six nodes (`--cluster-node-timeout` short, so a failover takes about a second or two), makes them a cluster
 * of three masters and three replicas, and resolves once every replica is in sync and the cluster is ok.
 */
export async function startReplicatedCluster(nodeTimeoutMs = 1000): Promise<ReplicatedCluster> {
  const nodes: RedisServer[] = []
  const dirs: string[] = []
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()))
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  }
  const masters = async (port = nodes[0]!.port) => {
    const lines = (await cli(port, 'CLUSTER', 'NODES')).trim().split('\n')
    return lines
      .filter((line) => /\bmaster\b/.test(line.split(' ')[2] ?? '') && !/fail/.test(line.split(' ')[2] ?? ''))
      .map((line) => Number(line.split(' ')[1]!.split(':')[1]!.split('@')[0]))
  }
  try {
    for (let i = 0; i < 6; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'coatcheck-rcluster-'))
      dirs.push(dir)
      const args = [
        ...['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf')],
        ...['--cluster-node-timeout', String(nodeTimeoutMs), '--appendonly', 'no'],
      ]
      nodes.push(await startRedis({ dir, port: await freePort(true), args }))
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`)
    await cli(nodes[0]!.port, '--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes')
    for (const node of nodes) {
      await waitFor(
        `the cluster on ${node.port}`,
        async () => {
          const info = await cli(node.port, 'CLUSTER', 'INFO')
          const replication = await cli(node.port, 'INFO', 'replication')
          const synced = replication.includes('role:master') || replication.includes('master_link_status:up')
          return info.includes('cluster_state:ok') && synced
        },
        20_000,
      )
    }
  } catch (error) {
    await stop()
    throw error
  }
  return {
    nodes,
    addresses: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    masters,
    async failedOver(dead, timeout = 30_000) {
      const alive = nodes.find((n) => n.port !== dead)!
      await waitFor(
        `a failover of ${dead}`,
        async () => {
          const info = await cli(alive.port, 'CLUSTER', 'INFO')
          return info.includes('cluster_state:ok') && !(await masters(alive.port)).includes(dead)
        },
        timeout,
      )
    },
    stop,
  }
}
