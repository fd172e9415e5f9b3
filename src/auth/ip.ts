import { createHash } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'

/**
 * The per-IP throttle key of a client address. IPv4 is the address itself, and so is IPv4-mapped IPv6
 * (`::ffff:1.2.3.4` is `1.2.3.4`). Other IPv6 is the network of `subnet` bits around it, with any zone ID dropped,
 * in one spelling whatever the input's (`2001:db8:0:0:0:0:0:0/64` for `2001:DB8::1%eth0`): one client usually owns
 * a whole /64. Anything else (a forwarded value that is no address) is keyed by its hash.
 */
export function ipKey(address: string, subnet: number): string {
  if (isIPv4(address)) return address
  if (!isIPv6(address)) return `?${createHash('sha256').update(address).digest('base64url')}`
  const words = ipv6Words(address)
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    const [hi, lo] = [words[6]!, words[7]!]
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`
  }
  const masked = words.map((word, i) => {
    const bits = Math.min(16, Math.max(0, subnet - 16 * i))
    return word & ((0xffff << (16 - bits)) & 0xffff)
  })
  return `${masked.map((w) => w.toString(16)).join(':')}/${subnet}`
}

/** The eight 16-bit words of an address that `isIPv6` accepts: zone dropped, `::` expanded, dotted tail converted. */
export function ipv6Words(address: string): number[] {
  let text = address.split('%', 1)[0]!
  if (text.includes('.')) {
    const colon = text.lastIndexOf(':')
    const [a, b, c, d] = text
      .slice(colon + 1)
      .split('.')
      .map(Number) as [number, number, number, number]
    text = `${text.slice(0, colon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, tail] = text.split('::') as [string, string | undefined]
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const gap = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0')
  return [...left, ...gap, ...right].map((word) => Number.parseInt(word, 16))
}
