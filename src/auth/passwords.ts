import crypto, { randomBytes, timingSafeEqual } from 'node:crypto'
import { CoatcheckError } from '../errors.ts'

/** OWASP's argon2id parameters: 19 MiB of memory, 2 passes, 1 lane. */
const CURRENT = Object.freeze({ memory: 19_456, passes: 2, parallelism: 1, saltBytes: 16, tagLength: 32 })

/** Longer passwords are refused before hashing, so a huge input cannot be used to burn CPU. */
export const MAX_PASSWORD_BYTES = 1024

const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/

interface Parsed {
  memory: number
  passes: number
  parallelism: number
  salt: Buffer
  tag: Buffer
}

function normalize(password: string): Buffer {
  return Buffer.from(password.normalize('NFKC'), 'utf8')
}

function parse(hash: string): Parsed | undefined {
  const m = PHC.exec(hash)
  if (!m) return undefined
  return {
    memory: Number(m[1]),
    passes: Number(m[2]),
    parallelism: Number(m[3]),
    salt: Buffer.from(m[4]!, 'base64'),
    tag: Buffer.from(m[5]!, 'base64'),
  }
}

function compute(message: Buffer, p: Omit<Parsed, 'tag'>, tagLength: number): Promise<Buffer> {
  const params = { message, nonce: p.salt, memory: p.memory, passes: p.passes, parallelism: p.parallelism, tagLength }
  return new Promise((resolve, reject) => {
    crypto.argon2('argon2id', params, (error, key) => (error ? reject(error) : resolve(key)))
  })
}

/**
 * Hashes a password with argon2id (OWASP parameters m=19456 KiB, t=2, p=1, 16-byte salt) into a PHC string. Runs on
 * libuv's thread pool, so it never blocks the event loop. The password is NFKC-normalised first; one over 1 KiB is
 * refused with `PASSWORD_TOO_LONG`.
 */
export async function hashPassword(password: string): Promise<string> {
  const message = normalize(password)
  if (message.length > MAX_PASSWORD_BYTES) {
    throw new CoatcheckError('PASSWORD_TOO_LONG', `coatcheck: passwords are limited to ${MAX_PASSWORD_BYTES} bytes`)
  }
  const salt = randomBytes(CURRENT.saltBytes)
  const tag = await compute(message, { ...CURRENT, salt }, CURRENT.tagLength)
  const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '')
  return `$argon2id$v=19$m=${CURRENT.memory},t=${CURRENT.passes},p=${CURRENT.parallelism}$${b64(salt)}$${b64(tag)}`
}

// Verified when there is no user, so an unknown account costs exactly one hash verification, like a known one.
// The hash of 32 random bytes that were thrown away: no password matches it.
const DUMMY_HASH = '$argon2id$v=19$m=19456,t=2,p=1$kEIHLJR0h1bTPrRSFG0sjA$iafSWeghqsxhUQiuZJ3OK6LrzspYIE44u//T1P6Pdd4'

/** The outcome of `verifyPassword`. */
export interface Verification {
  /** The password matches the hash. */
  ok: boolean
  /** The hash uses weaker parameters than `hashPassword` does today: store a fresh hash of this password. */
  needsRehash: boolean
}

/**
 * Checks `password` against an argon2id PHC `hash` in constant time. With no hash (unknown user) it verifies against
 * a fixed dummy hash and answers `ok: false`, so both cases cost one verification. A hash in another format (bcrypt,
 * say) or a password over 1 KiB answers `ok: false` without hashing.
 */
export async function verifyPassword(hash: string | null | undefined, password: string): Promise<Verification> {
  const message = normalize(password)
  const parsed = parse(hash ?? DUMMY_HASH)
  if (!parsed || message.length > MAX_PASSWORD_BYTES) return { ok: false, needsRehash: false }
  const tag = await compute(message, parsed, parsed.tag.length)
  const ok = hash != null && timingSafeEqual(tag, parsed.tag)
  const weaker =
    parsed.memory < CURRENT.memory ||
    parsed.passes < CURRENT.passes ||
    parsed.salt.length < CURRENT.saltBytes ||
    parsed.tag.length < CURRENT.tagLength
  return { ok, needsRehash: ok && weaker }
}
