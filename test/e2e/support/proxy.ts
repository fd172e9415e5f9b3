/**
 * A small round-robin load balancer: each request goes to the next backend in turn, no sticky sessions. It tells the
 * backends who the client was (X-Forwarded-For / -Proto, as a real proxy does) and logs which backend answered what.
 */
import { once } from 'node:events'
import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Served {
  /** Index of the backend that answered. */
  backend: number
  method: string
  path: string
  status: number
}

export interface Balancer {
  url: string
  /** Every request, in the order they were answered. */
  log: Served[]
  close(): Promise<void>
}

export async function startProxy(backends: string[]): Promise<Balancer> {
  const log: Served[] = []
  let turn = 0
  const server = createServer((req, res) => {
    const backend = turn++ % backends.length
    const target = new URL(req.url ?? '/', backends[backend])
    const headers = {
      ...req.headers,
      'x-forwarded-for': req.socket.remoteAddress ?? '',
      'x-forwarded-proto': 'http',
    }
    const upstream = request(target, { method: req.method, headers }, (answer) => {
      log.push({ backend, method: req.method ?? '', path: req.url ?? '', status: answer.statusCode ?? 0 })
      res.writeHead(answer.statusCode ?? 502, { ...answer.headers, 'x-backend': String(backend) })
      answer.pipe(res)
    })
    upstream.on('error', () => res.writeHead(502).end())
    req.pipe(upstream)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
