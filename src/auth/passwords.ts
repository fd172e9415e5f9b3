import crypto, { randomBytes, timingSafeEqual } from 'node:crypto'
import { CoatcheckError } from '../errors.ts'

/** OWASP's argon2id parameters: 19 MiB of memory, 2 passes, 1 lane. */
const CURRENT = Object.freeze({ memory: 19_456, passes: 2, parallelism: 1, saltBytes: 16, tagLength: 32 })

/**
 * The parameters `verifyPassword` accepts in a stored hash. The lower bounds are argon2's own (RFC 9106); the upper
 * ones keep a planted or corrupted hash from making one login burn gigabytes of memory or seconds of CPU, and still
 * admit every profile of OWASP's cheat sheet and RFC 9106's second recommendation (64 MiB, t=3, p=4): memory up to
 * 256 MiB (262 144 KiB) and at least 8 KiB per lane, at most 16 passes and 16 lanes, memory × passes at most
 * 1 GiB-passes, salt 8 to 64 bytes, tag 4 to 64 bytes. A hash outside them verifies as a wrong password would.
 */
export const HASH_LIMITS = Object.freeze({
  maxMemory: 262_144,
  maxPasses: 16,
  maxParallelism: 16,
  maxWork: 1_048_576,
  minSaltBytes: 8,
  maxSaltBytes: 64,
  minTagLength: 4,
  maxTagLength: 64,
})

/** Longer passwords are refused before hashing, so a huge input cannot be used to burn CPU. */
export const MAX_PASSWORD_BYTES = 1024

// Digit runs are bounded so Number() stays exact; the base64 runs so a huge string is not decoded.
const PHC = /^\$argon2id\$v=19\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,10})\$([A-Za-z0-9+/]{1,100})\$([A-Za-z0-9+/]{1,100})$/
// What a hash from bcrypt, scrypt, pbkdf2 or argon2 libraries starts with: `$2b$10$`, `$argon2i$`, `$scrypt$`...
const HASH_LIKE = /^\$(?:2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}$|argon2(?:id|i|d)\$|scrypt\$|pbkdf2[-\w]*\$)/

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

/** The hash's parameters when it is an argon2id PHC string within HASH_LIMITS, otherwise undefined. */
function parse(hash: string): Parsed | undefined {
  const m = PHC.exec(hash)
  if (!m) return undefined
  const [memory, passes, parallelism] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const salt = Buffer.from(m[4]!, 'base64')
  const tag = Buffer.from(m[5]!, 'base64')
  const L = HASH_LIMITS
  const within =
    parallelism >= 1 &&
    parallelism <= L.maxParallelism &&
    memory >= 8 * parallelism &&
    memory <= L.maxMemory &&
    passes >= 1 &&
    passes <= L.maxPasses &&
    memory * passes <= L.maxWork &&
    salt.length >= L.minSaltBytes &&
    salt.length <= L.maxSaltBytes &&
    tag.length >= L.minTagLength &&
    tag.length <= L.maxTagLength
  return within ? { memory, passes, parallelism, salt, tag } : undefined
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
const DUMMY = parse(DUMMY_HASH)!
const NO = Object.freeze({ ok: false, needsRehash: false })

/** The outcome of `verifyPassword`. */
export interface Verification {
  /** The password matches the hash. */
  ok: boolean
  /** The hash uses weaker parameters than `hashPassword` does today: store a fresh hash of this password. */
  needsRehash: boolean
}

/**
 * Checks `password` against an argon2id PHC `hash` in constant time; it never rejects on what a client sent or a
 * store held. With no hash (unknown user), a missing or non-string password (a repeated form field is an array), or
 * an argon2id hash whose parameters are out of range (see `HASH_LIMITS`), it verifies against a fixed dummy hash and
 * answers `ok: false`, so each case costs one verification, like a wrong password; so does a hash in another format
 * (bcrypt, a migrated Django hash), so timing does not tell which accounts still have one. A password over 1 KiB
 * answers `ok: false` without hashing. It never throws: the arguments in bcrypt's order, `(password, hash)`, answer
 * `ok: false` and emit a one-time warning (`COATCHECK_SWAPPED_ARGUMENTS`) that says so.
 *
 * @example
 * ```ts
 * const { ok, needsRehash } = await verifyPassword(user?.passwordHash, req.body.password)
 * if (ok && needsRehash) await users.setHash(user.id, await hashPassword(req.body.password))
 * ```
 */
export async function verifyPassword(hash: string | null | undefined, password: unknown): Promise<Verification> {
  if (isSwapped(hash, password)) warnSwapped()
  const message = typeof password === 'string' ? normalize(password) : undefined
  if (message !== undefined && message.length > MAX_PASSWORD_BYTES) return { ...NO }
  const stored = typeof hash === 'string' && hash.startsWith('$argon2id$') ? hash : undefined
  const parsed = stored === undefined ? undefined : parse(stored)
  const genuine = parsed !== undefined && message !== undefined
  const against = genuine ? parsed : DUMMY
  let tag: Buffer
  try {
    tag = await compute(message ?? Buffer.alloc(0), against, against.tag.length)
  } catch {
    return { ...NO }
  }
  const ok = genuine && timingSafeEqual(tag, against.tag)
  const weaker =
    against.memory < CURRENT.memory ||
    against.passes < CURRENT.passes ||
    against.salt.length < CURRENT.saltBytes ||
    against.tag.length < CURRENT.tagLength
  return { ok, needsRehash: ok && weaker }
}

let warnedSwapped = false

// A programming error found in development; a warning rather than a throw, since a client can shape the password.
function warnSwapped(): void {
  if (warnedSwapped) return
  warnedSwapped = true
  process.emitWarning(
    'coatcheck: verifyPassword takes (hash, password), in that order; it was given what looks like (password, hash), ' +
      'the order of bcrypt.compare, and answers ok: false',
    { type: 'CoatcheckWarning', code: 'COATCHECK_SWAPPED_ARGUMENTS' },
  )
}

// bcrypt.compare(password, hash) habits: a hash where the password goes, and something else where the hash goes.
// The first argument must be a non-empty string that is not a hash, so neither an unknown user (no hash) nor a
// client posting a hash-shaped password can make it throw.
function isSwapped(hash: unknown, password: unknown): boolean {
  // A stored hash in another format (a migrated `pbkdf2_sha256$...`) holds a `$` too: only a first argument with
  // none looks like a password, so a client posting a hash-shaped password cannot raise the warning.
  return (
    typeof hash === 'string' &&
    hash !== '' &&
    !hash.includes('$') &&
    typeof password === 'string' &&
    HASH_LIKE.test(password)
  )
}
