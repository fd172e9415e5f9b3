/**
 * Generated stored records against the decoders: the safe JSON parse (src/core/json.ts) and the express-session record
 * format (src/stores/legacy/format.ts). Decoding never throws, never lets a stored key reach a prototype, never reads
 * a malformed envelope as one, and a record written by the format reads back as it was.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { jsonDepth, nullProto, parseData, parseStored } from '../../src/core/json.ts'
import { ENVELOPE, NO_DEADLINE, toLegacy, toRecord } from '../../src/stores/legacy/format.ts'
import type { SessionRecord } from '../../src/stores/types.ts'

const RUNS = 1000
const DANGEROUS = ['__proto__', 'constructor']

/** Object keys as an attacker would pick them: the dangerous ones, their neighbours, and anything. */
const key = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'polluted', 'toString', 'cookie') },
  { weight: 1, arbitrary: fc.constantFrom(ENVELOPE, 'isAdmin', '__proto', 'proto__') },
  { weight: 3, arbitrary: fc.string({ maxLength: 8 }) },
)

/** JSON values whose objects use those keys, at any depth up to 6. */
const hostileValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
    ),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map((entries) => {
      const object: Record<string, unknown> = {}
      // Defined, as JSON.parse makes them: a `__proto__` entry is an own key, as it is in stored text.
      for (const [k, v] of entries)
        Object.defineProperty(object, k, { value: v, enumerable: true, writable: true, configurable: true })
      return object
    }),
  ),
})).value

/** JSON text of such a value, with its keys sometimes spelled through \u escapes (`"\u005f_proto__"`). */
const hostileText = fc.tuple(hostileValue, fc.boolean()).map(([value, escaped]) => {
  const text = JSON.stringify(value) ?? 'null'
  return escaped
    ? text.replace(
        /"(__proto__|constructor)"/g,
        (_, k: string) => `"\\u${k.charCodeAt(0).toString(16).padStart(4, '0')}${k.slice(1)}"`,
      )
    : text
})

const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 100 }),
  hostileText,
  fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', ',', ':', '1'), maxLength: 200 }),
)

/** Every object in `value` with its own keys and prototype, iteratively. */
function* objects(value: unknown): Generator<object> {
  const stack = [value]
  while (stack.length > 0) {
    const node = stack.pop()
    if (typeof node !== 'object' || node === null) continue
    yield node
    for (const k of Object.keys(node)) stack.push((node as Record<string, unknown>)[k])
  }
}

function assertSafe(value: unknown): void {
  for (const node of objects(value)) {
    for (const k of DANGEROUS) assert.ok(!Object.hasOwn(node, k), `a ${k} key survived`)
    const proto = Object.getPrototypeOf(node)
    assert.ok(proto === null || proto === Object.prototype || proto === Array.prototype, 'no foreign prototype')
  }
  // Merged the way apps merge stored data: nothing reaches Object.prototype.
  for (const node of objects(value)) Object.assign({}, node)
  assert.equal(({} as Record<string, unknown>).polluted, undefined)
  assert.equal(({} as Record<string, unknown>).isAdmin, undefined)
}

/** `value` without its `__proto__` and `constructor` keys, at every depth: what the safe parse promises. */
function withoutDangerous(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDangerous)
  if (typeof value !== 'object' || value === null) return value
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(value))
    if (!DANGEROUS.includes(k)) out[k] = withoutDangerous((value as Record<string, unknown>)[k])
  return out
}

/** The nesting depth of a JSON value, as `jsonDepth` counts it. */
function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0
  const children = Object.values(value).map(depthOf)
  return 1 + Math.max(0, ...children)
}

describe('stored JSON (generated)', () => {
  it('parseStored never throws, drops every dangerous key at every depth, and keeps everything else', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const parsed = parseStored(text)
        assertSafe(parsed)
        let expected: unknown
        try {
          expected = withoutDangerous(JSON.parse(text))
        } catch {
          expected = undefined
        }
        assert.deepEqual(parsed, expected)
      }),
      { numRuns: RUNS },
    )
  })

  it('parseData and nullProto never throw and give null-prototype objects without dangerous keys', () => {
    const stored = fc.array(fc.tuple(key, anyText), { maxLength: 6 }).map((entries) => {
      const data: Record<string, string> = Object.create(null)
      for (const [k, v] of entries) data[k] = v
      return data
    })
    fc.assert(
      fc.property(stored, fc.anything(), (data, anything) => {
        const values = parseData(data)
        assert.equal(Object.getPrototypeOf(values), null)
        for (const k of DANGEROUS) assert.ok(!Object.hasOwn(values, k))
        for (const k of Object.keys(values)) assertSafe(values[k])
        const copy = nullProto(anything)
        assert.equal(Object.getPrototypeOf(copy), null)
      }),
      { numRuns: RUNS },
    )
  })

  it('jsonDepth never throws, counts the depth of any JSON value, and stops past its limit', () => {
    fc.assert(
      fc.property(anyText, hostileValue, fc.integer({ min: 0, max: 8 }), (text, value, limit) => {
        assert.ok(Number.isInteger(jsonDepth(text)))
        const json = JSON.stringify(value)
        const depth = depthOf(value)
        assert.equal(jsonDepth(json), depth)
        assert.equal(jsonDepth(json, limit), Math.min(depth, limit + 1))
      }),
      { numRuns: RUNS },
    )
  })
})

/** A record as the engine writes one: data as JSON text, flat scalar meta, integer times. */
const record: fc.Arbitrary<SessionRecord> = fc
  .record({
    data: fc.dictionary(
      fc.string({ minLength: 1, maxLength: 10 }).filter((k) => k !== 'cookie' && k !== ENVELOPE),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      { maxKeys: 5 },
    ),
    userId: fc.option(fc.string({ minLength: 1, maxLength: 12 }), { nil: null }),
    meta: fc.dictionary(
      fc.string({ maxLength: 8 }).filter((k) => k !== 'cookie'),
      fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)),
      { maxKeys: 4 },
    ),
    createdAt: fc.integer({ min: 0, max: 2 ** 41 }),
    idle: fc.integer({ min: 1, max: 2 ** 32 }),
    lived: fc.integer({ min: 0, max: 2 ** 32 }),
    absolute: fc.integer({ min: 1, max: 2 ** 33 }),
  })
  .map(({ data, userId, meta, createdAt, idle, lived, absolute }) => {
    const lastSeenAt = createdAt + lived
    return {
      data,
      userId,
      meta,
      createdAt,
      lastSeenAt,
      expiresAt: lastSeenAt + idle,
      absoluteExpiresAt: createdAt + absolute,
    }
  })

/** Envelopes that are not exactly the shape `toLegacy` writes. */
const badEnvelope = fc.oneof(
  fc.anything(),
  fc.record({
    userId: fc.oneof(fc.integer(), fc.constant(true), fc.array(fc.string()), fc.object()),
    meta: fc.object(),
    createdAt: fc.integer(),
    lastSeenAt: fc.integer(),
    absoluteExpiresAt: fc.integer(),
  }),
  fc.record({
    userId: fc.string(),
    meta: fc.oneof(fc.array(fc.anything()), fc.constant(null), fc.string()),
    createdAt: fc.integer(),
    lastSeenAt: fc.integer(),
    absoluteExpiresAt: fc.integer(),
  }),
  fc.record({
    userId: fc.string(),
    meta: fc.object(),
    createdAt: fc.oneof(fc.string(), fc.constant(Number.NaN), fc.constant(Number.POSITIVE_INFINITY), fc.constant(null)),
    lastSeenAt: fc.integer(),
    absoluteExpiresAt: fc.integer(),
  }),
)

describe('express-session records (generated)', () => {
  it('toRecord never throws on any stored object, and what it gives has the record shape', () => {
    const stored = fc.oneof(
      fc.object({ key, maxDepth: 3 }),
      hostileText.map((text) => JSON.parse(text) as unknown).filter((v) => typeof v === 'object' && v !== null),
      fc.record({ cookie: fc.anything(), [ENVELOPE]: badEnvelope, cart: fc.jsonValue() }),
    )
    fc.assert(
      fc.property(stored, fc.integer({ min: 0, max: 2 ** 42 }), (session, at) => {
        const r = toRecord(session as Record<string, unknown>, at)
        assert.ok(r.userId === null || typeof r.userId === 'string')
        for (const time of [r.createdAt, r.lastSeenAt, r.expiresAt, r.absoluteExpiresAt])
          assert.ok(Number.isFinite(time))
        for (const k of Object.keys(r.data)) {
          assert.ok(k !== 'cookie' && k !== ENVELOPE, `${k} read as data`)
          assert.equal(typeof r.data[k], 'string')
          assertSafe(parseStored(r.data[k]!))
        }
        for (const v of Object.values(r.meta))
          assert.ok(v === null || ['string', 'number', 'boolean'].includes(typeof v))
        assertSafe(parseData(r.data))
      }),
      { numRuns: RUNS },
    )
  })

  it('an envelope of any other shape is never read as one: no user, no absolute deadline', () => {
    fc.assert(
      fc.property(badEnvelope, fc.jsonValue(), (envelope, cart) => {
        const session = JSON.parse(
          JSON.stringify({ cookie: { originalMaxAge: 1000, expires: new Date(5000) }, cart, [ENVELOPE]: envelope }) ??
            '{}',
        )
        const r = toRecord(session, 1)
        assert.equal(r.userId, null)
        assert.equal(r.absoluteExpiresAt, NO_DEADLINE)
        assert.ok(!Object.hasOwn(r.data, ENVELOPE))
      }),
      { numRuns: RUNS },
    )
  })

  it('a record written by toLegacy and stored as JSON reads back as it was (less dangerous keys)', () => {
    fc.assert(
      fc.property(record, (original) => {
        const stored = JSON.parse(JSON.stringify(toLegacy(original, () => original.lastSeenAt)))
        const back = toRecord(stored, original.lastSeenAt)
        // The format parses each value safely, so a nested `__proto__` or `constructor` key does not come back.
        const data = Object.fromEntries(
          Object.entries(original.data).map(([k, json]) => [k, JSON.stringify(withoutDangerous(JSON.parse(json)))]),
        )
        assert.deepEqual(
          { ...back, data: { ...back.data }, meta: { ...back.meta } },
          { ...original, data, meta: { ...original.meta } },
        )
      }),
      { numRuns: RUNS },
    )
  })
})
