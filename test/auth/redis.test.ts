import { after, before } from 'node:test'
import { createClient } from 'redis'
import { redisStore } from '../../src/stores/redis/index.ts'
import { type RedisServer, startRedis } from '../support/redis.ts'
import { authSuite } from './suite.ts'

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

authSuite('redis', async () => redisStore({ client, prefix: `auth${n++}:` }))
