import type { IncomingMessage } from 'node:http'

/** Decides whether the peer at `address`, `hop` steps from us (0 = the socket), is a proxy we trust. */
export type TrustProxy = (address: string, hop: number) => boolean

/**
 * Turns the `trustProxy` option into one function: `false` trusts no proxy, `true` every hop, a number that many
 * hops, a function decides per address.
 */
export function trustProxyFn(option: boolean | number | TrustProxy): TrustProxy {
  if (typeof option === 'function') return option
  if (typeof option === 'number') return (_address, hop) => hop < option
  return () => option
}

/** True when the request reached us over HTTPS, directly or through a trusted proxy's X-Forwarded-Proto. */
export function isSecure(req: IncomingMessage, trust: TrustProxy): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true
  if (!trust(req.socket.remoteAddress ?? '', 0)) return false
  const header = req.headers['x-forwarded-proto']
  const proto = (Array.isArray(header) ? header[0] : header)?.split(',', 1)[0]?.trim().toLowerCase()
  return proto === 'https'
}

/**
 * The client's address: the socket's peer, or, walking X-Forwarded-For from the right, the first address that is
 * not a trusted proxy (the algorithm of Express's `req.ip`). Without trust the header is ignored, so it cannot be
 * spoofed.
 */
export function clientIp(req: IncomingMessage, trust: TrustProxy): string {
  const peer = req.socket.remoteAddress ?? ''
  const header = req.headers['x-forwarded-for']
  if (header === undefined || !trust(peer, 0)) return peer
  const forwarded = (Array.isArray(header) ? header.join(',') : header)
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean)
  const chain = [peer, ...forwarded.reverse()]
  for (let hop = 0; hop < chain.length - 1; hop++) if (!trust(chain[hop]!, hop)) return chain[hop]!
  return chain[chain.length - 1]!
}
