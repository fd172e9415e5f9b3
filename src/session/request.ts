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
