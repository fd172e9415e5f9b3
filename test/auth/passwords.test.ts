import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { once } from 'node:events'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { describe, it, mock } from 'node:test'
import { deviceLabel } from '../../src/auth/useragent.ts'
import { CoatcheckError, hashPassword, verifyPassword } from '../../src/index.ts'

describe('passwords', () => {
  it('hashes to an argon2id PHC string with OWASP parameters and a fresh 16-byte salt', async () => {
    const a = await hashPassword('s3cret!')
    const b = await hashPassword('s3cret!')
    assert.match(a, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
    assert.notEqual(a, b)
    assert.deepEqual(await verifyPassword(a, 's3cret!'), { ok: true, needsRehash: false })
    assert.deepEqual(await verifyPassword(a, 's3cret?'), { ok: false, needsRehash: false })
  })

  it('normalises Unicode (NFKC) before hashing', async () => {
    const hash = await hashPassword('ﬁle-Ⅸ') // ligature fi and roman numeral nine
    assert.equal((await verifyPassword(hash, 'file-IX')).ok, true)
  })

  it('flags hashes with weaker parameters for a rehash', async () => {
    const salt = crypto.randomBytes(16)
    const tag = crypto.argon2Sync('argon2id', {
      message: 'pw',
      nonce: salt,
      memory: 8192,
      passes: 1,
      parallelism: 1,
      tagLength: 32,
    })
    const b64 = (x: Buffer) => x.toString('base64').replace(/=+$/, '')
    const weak = `$argon2id$v=19$m=8192,t=1,p=1$${b64(salt)}$${b64(tag)}`
    assert.deepEqual(await verifyPassword(weak, 'pw'), { ok: true, needsRehash: true })
    assert.deepEqual(await verifyPassword(weak, 'nope'), { ok: false, needsRehash: false })
  })

  it('refuses passwords over 1 KiB without hashing, and unknown hash formats', async () => {
    const argon2 = mock.method(crypto, 'argon2')
    try {
      await assert.rejects(
        hashPassword('x'.repeat(1025)),
        (e) => e instanceof CoatcheckError && e.code === 'PASSWORD_TOO_LONG',
      )
      const hash = '$argon2id$v=19$m=19456,t=2,p=1$kEIHLJR0h1bTPrRSFG0sjA$iafSWeghqsxhUQiuZJ3OK6LrzspYIE44u//T1P6Pdd4'
      assert.deepEqual(await verifyPassword(hash, 'é'.repeat(600)), { ok: false, needsRehash: false })
      assert.equal(argon2.mock.callCount(), 0)
      // A hash in another format costs one (dummy) verification, like an unknown user, so timing tells nothing.
      const bcrypt = '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy'
      assert.deepEqual(await verifyPassword(bcrypt, 'password'), { ok: false, needsRehash: false })
      assert.deepEqual(await verifyPassword('pbkdf2_sha256$600000$salt$hash', 'pw'), { ok: false, needsRehash: false })
      assert.equal(argon2.mock.callCount(), 2)
    } finally {
      argon2.mock.restore()
    }
  })

  it('an unknown user (no hash) is one verification against a dummy and never ok', async () => {
    const argon2 = mock.method(crypto, 'argon2')
    try {
      assert.deepEqual(await verifyPassword(undefined, ''), { ok: false, needsRehash: false })
      assert.deepEqual(await verifyPassword(null, 'anything'), { ok: false, needsRehash: false })
      assert.equal(argon2.mock.callCount(), 2)
    } finally {
      argon2.mock.restore()
    }
  })

  it('a stored argon2id hash with out-of-range parameters is a wrong password, at the cost of one', async () => {
    const b64 = (x: Buffer) => x.toString('base64').replace(/=+$/, '')
    const salt = b64(crypto.randomBytes(16))
    const tag = b64(crypto.randomBytes(32))
    const hashes = [
      `$argon2id$v=19$m=0,t=2,p=1$${salt}$${tag}`,
      `$argon2id$v=19$m=19456,t=0,p=1$${salt}$${tag}`,
      `$argon2id$v=19$m=19456,t=2,p=0$${salt}$${tag}`,
      `$argon2id$v=19$m=7,t=2,p=1$${salt}$${tag}`, // under 8 KiB per lane
      `$argon2id$v=19$m=64,t=2,p=16777216$${salt}$${tag}`,
      `$argon2id$v=19$m=19456,t=2,p=1$${b64(crypto.randomBytes(7))}$${tag}`, // salt under 8 bytes
      `$argon2id$v=19$m=19456,t=2,p=1$${salt}$${b64(crypto.randomBytes(3))}`, // tag under 4 bytes
      `$argon2id$v=19$m=4294967296,t=2,p=1$${salt}$${tag}`, // m ≥ 2³²
      `$argon2id$v=19$m=99999999999999999999,t=2,p=1$${salt}$${tag}`,
      // What a planted hash would use to burn a core or the heap on every login attempt.
      `$argon2id$v=19$m=4194304,t=1,p=1$${salt}$${tag}`, // 4 GiB
      `$argon2id$v=19$m=19456,t=4000000000,p=1$${salt}$${tag}`,
      `$argon2id$v=19$m=262144,t=16,p=1$${salt}$${tag}`, // each within bounds, together 4 GiB-passes
      `$argon2id$v=19$m=19456,t=2,p=1$${salt}$${b64(crypto.randomBytes(75))}`, // a 600-bit tag
      `$argon2id$v=16$m=19456,t=2,p=1$${salt}$${tag}`,
      `$argon2id$v=19$m=19456,t=2,p=1$${salt}`,
    ]
    const argon2 = mock.method(crypto, 'argon2')
    try {
      for (const hash of hashes) {
        const before = argon2.mock.callCount()
        assert.deepEqual(await verifyPassword(hash, 'password'), { ok: false, needsRehash: false }, hash)
        assert.equal(argon2.mock.callCount() - before, 1, `one verification for ${hash}`)
        const params = argon2.mock.calls.at(-1)!.arguments[1] as { memory: number; passes: number }
        assert.ok(params.memory <= 19_456 && params.passes <= 2, 'against the dummy, not the planted parameters')
      }
    } finally {
      argon2.mock.restore()
    }
  })

  it('the strongest accepted parameters still verify (RFC 9106 second profile)', async () => {
    const salt = crypto.randomBytes(16)
    const params = { message: 'pw', nonce: salt, memory: 65_536, passes: 3, parallelism: 4, tagLength: 32 }
    const b64 = (x: Buffer) => x.toString('base64').replace(/=+$/, '')
    const hash = `$argon2id$v=19$m=65536,t=3,p=4$${b64(salt)}$${b64(crypto.argon2Sync('argon2id', params))}`
    assert.deepEqual(await verifyPassword(hash, 'pw'), { ok: true, needsRehash: false })
  })

  it('a missing or non-string password is a wrong password, at the cost of one, for known and unknown users', async () => {
    const hash = await hashPassword('s3cret!')
    const argon2 = mock.method(crypto, 'argon2')
    try {
      const passwords: unknown[] = [undefined, null, ['s3cret!', 's3cret!'], 42, { toString: () => 's3cret!' }, true]
      for (const stored of [hash, undefined, null]) {
        for (const password of passwords) {
          const before = argon2.mock.callCount()
          assert.deepEqual(await verifyPassword(stored, password), { ok: false, needsRehash: false })
          assert.equal(argon2.mock.callCount() - before, 1)
        }
      }
      const before = argon2.mock.callCount()
      assert.deepEqual(await verifyPassword(42 as unknown as string, 's3cret!'), { ok: false, needsRehash: false })
      assert.equal(argon2.mock.callCount() - before, 1, 'a non-string hash is no hash')
    } finally {
      argon2.mock.restore()
    }
  })

  it('the arguments in bcrypt’s order (password, hash) answer ok: false with a warning that says so', async () => {
    const hash = await hashPassword('s3cret!')
    const bcrypt = '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy'
    const warned = once(process, 'warning')
    for (const stored of [hash, bcrypt]) {
      assert.deepEqual(await verifyPassword('s3cret!', stored), { ok: false, needsRehash: false })
    }
    const [warning] = (await warned) as [Error & { code?: string }]
    assert.equal(warning.code, 'COATCHECK_SWAPPED_ARGUMENTS')
    assert.match(warning.message, /takes \(hash, password\)/)
    // A migrated hash without a leading `$` and a hash-shaped password (client input) must not throw either.
    assert.deepEqual(await verifyPassword('pbkdf2_sha256$1$s$h', '$argon2id$guess'), { ok: false, needsRehash: false })
    // What a client can send must never make it throw: a hash-shaped password for an unknown user or a real hash.
    assert.deepEqual(await verifyPassword(undefined, hash), { ok: false, needsRehash: false })
    assert.deepEqual(await verifyPassword(hash, bcrypt), { ok: false, needsRehash: false })
    assert.deepEqual(await verifyPassword('', hash), { ok: false, needsRehash: false })
  })

  it('hashing runs off the main thread: the event loop keeps turning during a burst', async () => {
    const histogram = monitorEventLoopDelay({ resolution: 5 })
    histogram.enable()
    await Promise.all(Array.from({ length: 8 }, (_, i) => hashPassword(`pw-${i}`)))
    histogram.disable()
    // Not a timing threshold: a synchronous hash would block for the whole burst (8 × ~20 ms); this only checks that
    // the loop got to run at all in between, by sampling more than once.
    assert.ok(histogram.count > 1, `event loop sampled ${histogram.count} times`)
  })
})

describe('device labels', () => {
  it('names common browsers and systems', () => {
    const cases: Array<[string | null, string]> = [
      [
        'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36',
        'Chrome on Linux',
      ],
      [
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36 Edg/140.0',
        'Edge on Windows',
      ],
      [
        'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1',
        'Safari on iOS',
      ],
      [
        'Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Mobile Safari/537.36',
        'Chrome on Android',
      ],
      ['curl/8.5.0', 'curl'],
      [null, 'Unknown device'],
      ['', 'Unknown device'],
    ]
    for (const [ua, label] of cases) assert.equal(deviceLabel(ua), label)
  })
})
