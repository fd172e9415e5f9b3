/**
 * Generated cookie headers against the parse and verify path (src/core/cookie.ts, src/core/token.ts): nothing throws,
 * nothing verifies that `sign` did not produce with a configured secret, and a valid cookie among garbage is found.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { cookieValues, decodeCookieValue, rawCookieValues } from '../../src/core/cookie.ts'
import { newToken, sign, unsign, VerifiedCookies } from '../../src/core/token.ts'

const SECRETS = ['first-secret-that-is-at-least-32-chars!!', 'second-secret-that-is-at-least-32-chars!']
const OTHER = 'an-unconfigured-secret-of-32-chars-or-more'
const RUNS = 2000

/** Any text at all, lone surrogates and control characters included. */
const anyText = fc.string({ unit: 'binary', maxLength: 200 })
/** Text built from the characters that matter to a Cookie header parser. */
const cookieish = fc.string({
  unit: fc.constantFrom(
    ';',
    '=',
    ' ',
    '"',
    '%',
    '.',
    ':',
    's',
    'i',
    'd',
    'a',
    '\t',
    ',',
    '\\',
    '%3A',
    '%2',
    'é',
    '\u0000',
  ),
  maxLength: 60,
})
const header = fc.oneof(anyText, cookieish)
const name = fc.oneof(fc.constantFrom('sid', '__Host-sid', 'connect.sid', 'remember'), fc.string({ maxLength: 8 }))

/** The ways a value in transit can be changed: every one of them yields a different string (or is skipped). */
const mutation = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    to: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('case' as const), at: fc.nat() }),
)

interface Mutation {
  kind: 'flip' | 'insert' | 'delete' | 'truncate' | 'case'
  at: number
  to?: string
  text?: string
  length?: number
}

function mutate(value: string, m: Mutation): string {
  const at = m.at % (value.length + 1)
  switch (m.kind) {
    case 'flip':
      return value.slice(0, at) + String(m.to) + value.slice(at + 1)
    case 'insert':
      return value.slice(0, at) + String(m.text) + value.slice(at)
    case 'delete':
      return value.slice(0, at) + value.slice(at + Number(m.length))
    case 'truncate':
      return value.slice(0, at)
    default: {
      const c = value[at] ?? ''
      const swapped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()
      return value.slice(0, at) + swapped + value.slice(at + 1)
    }
  }
}

/** True when `signed` is exactly what `sign(value, secret)` makes for one of the configured secrets. */
const signedByUs = (signed: string, value: string) => SECRETS.some((secret) => sign(value, secret) === signed)

describe('cookie headers (generated)', () => {
  it('parsing never throws, on any header and any name', () => {
    fc.assert(
      fc.property(fc.option(header, { nil: undefined }), name, (h, n) => {
        const raw = rawCookieValues(h, n)
        const decoded = cookieValues(h, n)
        assert.ok(Array.isArray(raw) && Array.isArray(decoded))
        assert.ok(decoded.length <= raw.length)
        for (const value of raw) {
          assert.ok(value.length > 0 && value.length <= 1024, 'empty and oversized values are skipped')
          decodeCookieValue(value)
        }
      }),
      { numRuns: RUNS },
    )
  })

  it('verification never throws, and accepts only what sign() made with a configured secret', () => {
    const cookies = new VerifiedCookies(SECRETS, 64)
    fc.assert(
      fc.property(
        fc.oneof(
          anyText,
          cookieish,
          fc.string().map((s) => `s:${s}`),
        ),
        (value) => {
          const token = unsign(value, SECRETS)
          if (token !== undefined) assert.ok(signedByUs(value, token), `accepted ${JSON.stringify(value)}`)
          const verified = cookies.verify(value)
          if (verified !== undefined) {
            assert.ok(signedByUs(decodeCookieValue(value)!, verified.token), `verified ${JSON.stringify(value)}`)
          }
        },
      ),
      { numRuns: RUNS },
    )
  })

  it('a signed value changed in any way is refused; one signed with another secret is refused', () => {
    const cookies = new VerifiedCookies(SECRETS, 64)
    fc.assert(
      fc.property(
        fc.oneof(
          fc.constant(null).map(() => newToken()),
          fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }),
        ),
        fc.constantFrom(...SECRETS),
        mutation,
        (token, secret, m) => {
          const signed = sign(token, secret)
          assert.equal(unsign(signed, SECRETS), token, 'every configured secret verifies (rotation)')
          assert.equal(unsign(sign(token, OTHER), SECRETS), undefined, 'another secret never verifies')
          const changed = mutate(signed, m)
          fc.pre(changed !== signed)
          const result = unsign(changed, SECRETS)
          if (result !== undefined) assert.ok(signedByUs(changed, result), `${JSON.stringify(changed)} verified`)
          // As a browser would send it (a lone surrogate cannot be URI-encoded: then as it is).
          const sent = changed.isWellFormed() ? encodeURIComponent(changed) : changed
          const verified = cookies.verify(sent)
          if (verified !== undefined) assert.ok(signedByUs(decodeCookieValue(sent)!, verified.token))
        },
      ),
      { numRuns: RUNS },
    )
  })

  it('finds a valid cookie among any garbage before and after it', () => {
    const cookies = new VerifiedCookies(SECRETS, 64)
    fc.assert(
      fc.property(
        fc.array(header, { maxLength: 4 }),
        fc.array(header, { maxLength: 4 }),
        fc.constantFrom('sid', '__Host-sid', 'connect.sid'),
        fc.constantFrom(...SECRETS),
        fc.boolean(),
        (before, after, cookieName, secret, quoted) => {
          const token = newToken()
          const encoded = encodeURIComponent(sign(token, secret))
          const pair = `${cookieName}=${quoted ? `"${encoded}"` : encoded}`
          const cookieHeader = [...before, pair, ...after].join('; ')
          const found = rawCookieValues(cookieHeader, cookieName)
            .map((value) => cookies.verify(value))
            .find((verified) => verified !== undefined)
          assert.equal(found?.token, token, cookieHeader)
        },
      ),
      { numRuns: RUNS },
    )
  })
})
