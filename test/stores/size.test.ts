import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CoatcheckError } from '../../src/errors.ts'
import { dataBytes, patchedData } from '../../src/stores/size.ts'
import type { StoredData } from '../../src/stores/types.ts'

const data = (entries: Record<string, string>): StoredData => Object.assign(Object.create(null), entries)
const tooLarge = (bytes: number) => (error: unknown) =>
  error instanceof CoatcheckError && error.code === 'SESSION_TOO_LARGE' && error.message.includes(`of ${bytes} bytes`)

describe('patchedData: a patch applied to stored data, sized by the maxBytes rule', () => {
  it('unsets first, then sets, into a new null-prototype object, leaving the stored one alone', () => {
    const stored = Object.freeze(data({ a: '1', b: '2' }))
    const next = patchedData(stored, {
      unset: ['a', 'b', 'gone'],
      set: JSON.parse('{"b": "3", "__proto__": "4"}') as StoredData,
    })
    assert.equal(Object.getPrototypeOf(next), null)
    assert.deepEqual(Object.entries(next), [
      ['b', '3'],
      ['__proto__', '4'],
    ])
    assert.deepEqual({ ...stored }, { a: '1', b: '2' })
  })

  it('refuses growth past the bound, naming the size it would have, and lets any shrinking change through', () => {
    const stored = data({ a: 'x'.repeat(50), b: 'y'.repeat(50) }) // 102 bytes
    assert.throws(() => patchedData(stored, { set: { c: '12345' }, maxBytes: 102 }), tooLarge(108))
    assert.equal(dataBytes(patchedData(stored, { set: { c: '12345' }, maxBytes: 108 })), 108)
    // Above a bound it was stored under: a change that shrinks it applies, even one whose new value alone is past.
    assert.equal(dataBytes(patchedData(stored, { set: { a: 'z'.repeat(60) }, unset: ['b'], maxBytes: 20 })), 61)
    assert.throws(() => patchedData(stored, { set: { a: 'z'.repeat(51) }, maxBytes: 20 }), tooLarge(103))
    // Without a bound nothing is refused.
    assert.equal(dataBytes(patchedData(stored, { set: { c: 'w'.repeat(1000) } })), 1103)
  })

  it('counts a key unset twice, or unset and set, once', () => {
    const stored = data({ a: 'x'.repeat(50), b: '1' }) // 53 bytes
    // Growth is +1 either way; a double count of the unset would hide it.
    assert.throws(
      () => patchedData(stored, { unset: ['a', 'a'], set: { a: 'x'.repeat(51) }, maxBytes: 53 }),
      tooLarge(54),
    )
    assert.throws(() => patchedData(stored, { unset: ['b', 'b'], set: { b: '12' }, maxBytes: 53 }), tooLarge(54))
    assert.equal(dataBytes(patchedData(stored, { unset: ['b', 'b'], set: { b: '12' }, maxBytes: 54 })), 54)
  })

  it('counts UTF-8 bytes, keys included', () => {
    const stored = data({})
    assert.throws(() => patchedData(stored, { set: { é: '"ü"' }, maxBytes: 5 }), tooLarge(6))
    assert.equal(dataBytes(patchedData(stored, { set: { é: '"ü"' }, maxBytes: 6 })), 6)
  })
})
