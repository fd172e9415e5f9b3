/**
 * What `npm start` runs: the reference app, configured by the environment (see config.ts), on
 * http://127.0.0.1:3000 by default, with sessions and users in data/app.db.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { hidePassword, type OpenedStore, openStore } from '../../src/cli/store-url.ts'
import { createApp } from './app.ts'
import { type Config, ConfigError, loadConfig } from './config.ts'
import { openUsers, type Users } from './users.ts'

const fail = (message: string, code = 1): never => {
  console.error(`coatcheck app: ${message}`)
  process.exit(code)
}

let config: Config
try {
  config = loadConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  fail(error.message)
}
config = config!

const shownUrl = hidePassword(config.storeUrl)
let opened: OpenedStore
let users: Users
try {
  opened = await openStore(config.storeUrl)
  users = await openUsers(opened)
} catch (error) {
  fail((error as Error).message, 2)
}
opened = opened!
users = users!

const app = createApp({
  store: opened.store,
  users,
  secret: config.secret,
  production: config.production,
  trustProxy: config.trustProxy,
  idleTimeout: config.idleTimeout,
  absoluteTimeout: config.absoluteTimeout,
})

const server = createServer(app)
let stopping = false
async function stop(code: number) {
  if (stopping) return
  stopping = true
  setTimeout(() => process.exit(code), 3000).unref()
  server.close()
  server.closeAllConnections()
  await opened.close().catch(() => {})
  process.exit(code)
}

server.on('error', (error: NodeJS.ErrnoException) => {
  console.error(
    error.code === 'EADDRINUSE'
      ? `port ${config.port} is in use; set PORT`
      : `coatcheck app: cannot listen on ${config.host}:${config.port}: ${error.message}`,
  )
  void stop(1)
})
server.listen(config.port, config.host, () => {
  const { port } = server.address() as AddressInfo
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  console.log(`coatcheck reference app (${config.production ? 'production' : 'development'})`)
  console.log(`  sessions and users: ${shownUrl}`)
  console.log(`  cookies signed with: ${config.secretSource}`)
  console.log(`  listening on http://${host}:${port}`)
})
process.once('SIGINT', () => void stop(0))
process.once('SIGTERM', () => void stop(0))
