import { once } from 'node:events'
import { createServer, type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'

/** What a login stores besides the user id: a few small fields, about 200 bytes of session data in all. */
export const PROFILE = {
  name: 'Ada Lovelace',
  email: 'ada.lovelace@example.com',
  roles: ['reader', 'editor'],
  locale: 'en-GB',
  timeZone: 'Europe/London',
  theme: 'dark',
  plan: 'team',
  loggedInAt: 1_767_225_600_000,
}

/** The user id every login stores, and the body every authenticated read must answer. */
export const USER = 'u1'
export const EXPECTED_BODY = JSON.stringify({ user: USER })

/** The parent's messages to a server, and the server's replies. */
export type ToServer = { type: 'cpu' }
export type FromServer = { type: 'listening'; port: number } | { type: 'cpu'; usage: NodeJS.CpuUsage }

/**
 * Serves `handler` on 127.0.0.1 at a free port and reports the port to the parent over IPC. Answers the parent's
 * CPU-usage questions so each server is charged for its own work only. Exits when told to (SIGTERM, so a
 * `--cpu-prof` profile is still written) or when the parent goes away, so no server outlives a bench run.
 */
export async function serve(handler: RequestListener): Promise<void> {
  const send = (message: FromServer) => process.send!(message)
  process.on('message', (message: ToServer) => {
    if (message.type === 'cpu') send({ type: 'cpu', usage: process.cpuUsage() })
  })
  process.on('disconnect', () => process.exit(0))
  process.on('SIGTERM', () => process.exit(0))
  const server = createServer(handler)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  send({ type: 'listening', port: (server.address() as AddressInfo).port })
}
