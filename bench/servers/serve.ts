import { once } from 'node:events'
import { createServer, type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type ELDHistogram, type EventLoopUtilization, monitorEventLoopDelay, performance } from 'node:perf_hooks'
import type { Express, Request } from 'express'

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
/** The password of the login benchmark's one user. */
export const PASSWORD = 'correct horse battery staple'
/** What every write, create and login answers. */
export const OK_BODY = JSON.stringify({ ok: true })

/**
 * Event-loop delay over a window, in ms. The histogram takes one sample per loop turn, so a turn blocked for a second
 * counts once against a thousand quick ones: `utilization` (the share of the window the loop was busy) and `max`
 * show a blocked loop that p99 alone can hide.
 */
export interface Lag {
  p50: number
  p99: number
  max: number
  mean: number
  utilization: number
}

/** The parent's messages to a server, and the server's replies. */
export type ToServer = { type: 'cpu' } | { type: 'lag-start' } | { type: 'lag-stop' }
export type FromServer =
  | { type: 'listening'; port: number }
  | { type: 'cpu'; usage: NodeJS.CpuUsage }
  | { type: 'lag-started' }
  | { type: 'lag'; lag: Lag }

/**
 * Serves `handler` on 127.0.0.1 at a free port and reports the port to the parent over IPC. Answers the parent's
 * CPU-usage questions so each server is charged for its own work only, and measures its own event-loop delay between
 * `lag-start` and `lag-stop` (1 ms resolution), since only the server's loop can tell how long it was blocked. Exits when told to (SIGTERM, so a
 * `--cpu-prof` profile is still written) or when the parent goes away, so no server outlives a bench run.
 */
export async function serve(handler: RequestListener): Promise<void> {
  const send = (message: FromServer) => process.send!(message)
  let delay: ELDHistogram | undefined
  let busy: EventLoopUtilization | undefined
  process.on('message', (message: ToServer) => {
    if (message.type === 'cpu') send({ type: 'cpu', usage: process.cpuUsage() })
    else if (message.type === 'lag-start') {
      delay = monitorEventLoopDelay({ resolution: 1 })
      delay.enable()
      busy = performance.eventLoopUtilization()
      send({ type: 'lag-started' })
    } else if (message.type === 'lag-stop' && delay !== undefined) {
      delay.disable()
      const ms = (ns: number) => ns / 1e6
      const lag = {
        p50: ms(delay.percentile(50)),
        p99: ms(delay.percentile(99)),
        max: ms(delay.max),
        mean: ms(delay.mean),
        utilization: performance.eventLoopUtilization(busy).utilization,
      }
      send({ type: 'lag', lag })
    }
  })
  process.on('disconnect', () => process.exit(0))
  process.on('SIGTERM', () => process.exit(0))
  const server = createServer(handler)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  send({ type: 'listening', port: (server.address() as AddressInfo).port })
}

/** The session as a plain record: this server's middleware (coatcheck or express-session) decides its real type. */
export const sessionData = (req: Request) => req.session as unknown as Record<string, unknown>

/**
 * The routes every session server shares: POST /login stores the user and the profile, GET /me answers the user, or
 * 401 without one. The field is `user` on every server, since coatcheck reserves `userId` for `logIn`.
 */
export function authRoutes(app: Express): void {
  app.post('/login', (req, res) => {
    Object.assign(sessionData(req), { user: USER, ...PROFILE })
    res.json({ ok: true })
  })
  app.get('/me', (req, res) => {
    const user = sessionData(req).user
    if (user === undefined) res.status(401).json({ error: 'unauthenticated' })
    else res.json({ user })
  })
}
