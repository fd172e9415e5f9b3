import type { Express } from 'express'
import { listen, type Reply, type Running, send } from '../support/http.ts'

export const SECRET = 'keyboard cat'

/** Starts `app` on a free port. */
export function serve(app: Express): Promise<Running> {
  return listen(app)
}

/** A cookie jar per site that honours expiry the way a browser does (Max-Age=0 or an Expires in the past). */
export class Client {
  readonly jar = new Map<string, string>()
  base: string

  constructor(base: string) {
    this.base = base
  }

  async request(path: string, init: RequestInit = {}): Promise<Reply> {
    const cookie = [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ')
    const reply = await send(this.base + path, { ...init, ...(cookie && { cookie }) })
    for (const line of reply.setCookies) {
      const [pair = '', ...attributes] = line.split(';').map((part) => part.trim())
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq)
      const expired = attributes.some(
        (a) => /^max-age=0$/i.test(a) || (/^expires=/i.test(a) && Date.parse(a.slice(8)) <= Date.now()),
      )
      if (expired) this.jar.delete(name)
      else this.jar.set(name, pair.slice(eq + 1))
    }
    return reply
  }

  get(path: string, headers: Record<string, string> = {}): Promise<Reply> {
    return this.request(path, { headers })
  }

  post(path: string, body: Record<string, string> = {}): Promise<Reply> {
    return this.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body).toString(),
    })
  }

  /** The same jar pointed at another server (the app after a redeploy). */
  moveTo(base: string): this {
    this.base = base
    return this
  }
}

/**
 * A Set-Cookie line without its value, attributes sorted, and `Expires` rounded to the minute: what must match
 * between express-session and the drop-in face for the same options.
 */
export function shape(line: string): string {
  const [pair = '', ...attributes] = line.split(';').map((part) => part.trim())
  const name = pair.slice(0, pair.indexOf('='))
  const normalized = attributes.map((a) => {
    if (!/^expires=/i.test(a)) return a
    const at = Date.parse(a.slice(8))
    return at <= 0 ? a : `Expires~${Math.round(at / 60_000)}`
  })
  return [name, ...normalized.sort()].join('; ')
}

/** The signed session ID inside a `connect.sid` cookie value. */
export function sessionIdOf(value: string): string {
  const decoded = decodeURIComponent(value)
  return decoded.slice(2, decoded.lastIndexOf('.'))
}
