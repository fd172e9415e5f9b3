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

let warnedInsecure = false

/**
 * Says once per process that a Secure cookie is being set on a request that reached us over plain HTTP from
 * somewhere other than loopback: the browser will drop it (or it is behind a TLS proxy coatcheck was not told to trust).
 */
export function warnSecureOverHttp(req: IncomingMessage, option: string): void {
  if (warnedInsecure) return
  const peer = req.socket.remoteAddress ?? ''
  if (peer === '127.0.0.1' || peer === '::1' || peer === '::ffff:127.0.0.1') return
  warnedInsecure = true
  process.emitWarning(
    `coatcheck: a Secure session cookie was set on a plain-HTTP request from ${peer}: browsers drop it. Behind a ` +
      `TLS-terminating proxy, set \`${option}\` so X-Forwarded-Proto is believed`,
    { type: 'CoatcheckWarning', code: 'COATCHECK_SECURE_OVER_HTTP' },
  )
}

/**
 * Set on a request by the drop-in face (`coatcheck/express-session`), so that modern-only helpers can say that this is
 * the face that ran rather than that no session middleware did.
 * @internal
 */
export const DROP_IN_FACE = Symbol('coatcheck.dropIn')
