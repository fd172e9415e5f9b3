import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createClient, createCluster } from 'redis'
import { shortId } from '../../src/core/token.ts'
import { redisStore } from '../../src/stores/redis/index.ts'
import { type RedisCluster, type RedisServer, startRedis, startRedisCluster } from '../support/redis.ts'
import { coatcheck, jsonLines, seed } from './run.ts'
import { cliSuite } from './suite.ts'

let server: RedisServer
let client: ReturnType<typeof createClient>
let n = 0
before(async () => {
  server = await startRedis()
  client = createClient({ url: server.url })
  await client.connect()
})
after(async () => {
  await client.close()
  await server.stop()
})

cliSuite({
  name: 'redis',
  prunes: false,
  async fresh() {
    const prefix = `cli${n++}:`
    return { args: ['--store', server.url, '--prefix', prefix], store: redisStore({ client, prefix }) }
  },
  async blank() {
    return ['--store', server.url, '--prefix', `blank${n++}:`]
  },
})

describe('coatcheck CLI on a Redis Cluster', () => {
  let cluster: RedisCluster
  let clusterClient: ReturnType<typeof createCluster>
  before(async () => {
    cluster = await startRedisCluster()
    clusterClient = createCluster({ rootNodes: cluster.addresses.map((a) => ({ url: `redis://${a.host}:${a.port}` })) })
    await clusterClient.connect()
  })
  after(async () => {
    await clusterClient.close()
    await cluster.stop()
  })

  it('sessions list, stats and revoke see the sessions of every master', async () => {
    const store = redisStore({ client: clusterClient, prefix: 'c:' })
    const keys = await Promise.all(Array.from({ length: 30 }, (_, i) => seed(store, { userId: `u${i % 3}` })))
    const url = `redis+cluster://${cluster.addresses.map((a) => `${a.host}:${a.port}`).join(',')}`
    const args = ['--store', url, '--prefix', 'c:']
    const listed = await coatcheck(['sessions', 'list', '--json', ...args])
    assert.equal(listed.code, 0, listed.stderr)
    assert.deepEqual(new Set(jsonLines(listed.stdout).map((r) => r.handle)), new Set(keys.map(shortId)))
    const stats = await coatcheck(['stats', '--json', ...args])
    assert.equal(JSON.parse(stats.stdout).sessions, 30)
    assert.equal(JSON.parse(stats.stdout).users, 3)
    const revoked = await coatcheck(['sessions', 'revoke', '--user', 'u0', '--all', '--json', ...args])
    assert.deepEqual(JSON.parse(revoked.stdout), { userId: 'u0', revoked: 10 })
  })
})
