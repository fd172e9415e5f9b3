import { once } from 'node:events'
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A server on a free loopback port. */
export interface Running {
  url: string
  server: Server
  close(): Promise<void>
}

/** Starts `handler` (an Express app or a bare listener) on 127.0.0.1 with a free port. */
export async function listen(handler: RequestListener): Promise<Running> {
  const server = createServer(handler)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A response, with the body read as text. */
export interface Reply {
  status: number
  headers: Headers
  body: string
  setCookies: string[]
}

/** Sends one request with a raw Cookie header (or none). */
export async function send(url: string, init: RequestInit & { cookie?: string } = {}): Promise<Reply> {
  const headers = new Headers(init.headers)
  if (init.cookie !== undefined) headers.set('cookie', init.cookie)
  const response = await fetch(url, { ...init, headers, redirect: 'manual' })
  return {
    status: response.status,
    headers: response.headers,
    body: await response.text(),
    setCookies: response.headers.getSetCookie(),
  }
}

/** A client that keeps the cookies the server sets, like a browser would for one site. */
export class Browser {
  readonly jar = new Map<string, string>()
  /** Headers sent with every request (a User-Agent, say). */
  readonly headers: Record<string, string> = {}
  readonly base: string

  constructor(base: string) {
    this.base = base
  }

  async request(path: string, init: RequestInit = {}): Promise<Reply> {
    const cookie = [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ')
    const headers = { ...this.headers, ...Object.fromEntries(new Headers(init.headers)) }
    const reply = await send(this.base + path, { ...init, headers, ...(cookie && { cookie }) })
    for (const line of reply.setCookies) {
      const [pair = '', ...attributes] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a))
      if (expired) this.jar.delete(name)
      else this.jar.set(name, pair.slice(eq + 1).trim())
    }
    return reply
  }

  get(path: string): Promise<Reply> {
    return this.request(path)
  }

  post(path: string, body?: Record<string, unknown>): Promise<Reply> {
    return this.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    })
  }

  /** The raw cookie header this browser would send. */
  cookieHeader(): string {
    return [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ')
  }
}
