import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { jsonDepth, parseStored } from '../../src/core/json.ts'
import { keyOf, startApp } from '../session/harness.ts'

/** `[[[ … {"constructor": 1, "keep": true} … ]]]`, `depth` levels in all, as text. */
function deepText(
  depth: number,
  inner = '{"constructor":{"polluted":true},"__proto__":{"polluted":true},"keep":"\\u0041"}',
) {
  return '['.repeat(depth - 1) + inner + ']'.repeat(depth - 1)
}

/** The nesting depth of a parsed value, walked without recursion. */
function depthOf(value: unknown): number {
  let depth = 0
  let node = value
  while (typeof node === 'object' && node !== null) {
    depth++
    node = Array.isArray(node) ? node[0] : undefined
  }
  return depth
}

function innermost(value: unknown): Record<string, unknown> {
  let node = value
  while (Array.isArray(node)) node = node[0]
  return node as Record<string, unknown>
}

describe('stored JSON', () => {
  it('a value thousands of levels deep whose text spells a dangerous key reads back', async (t) => {
    const app = await startApp({}, (express) => {
      express.get('/deep', (req, res) => {
        const deep = req.session.deep
        res.json({ type: typeof deep, depth: depthOf(deep), innermost: deep === undefined ? null : innermost(deep) })
      })
    })
    t.after(() => app.close())
    const browser = app.browser()
    assert.equal((await browser.post('/session', { a: 1 })).status, 200)
    // As JSON.stringify writes it, so reading it changes nothing; past the safe reviver's stack, within stringify's.
    const depth = 3_000
    const text = deepText(depth, '{"note":"mentions constructor and __proto__"}')
    assert.equal(await app.inner.update(keyOf(browser), { set: { deep: text } }), true)
    const reply = await browser.get('/deep')
    assert.equal(reply.status, 200)
    assert.deepEqual(JSON.parse(reply.body), {
      type: 'object',
      depth,
      innermost: { note: 'mentions constructor and __proto__' },
    })
  })

  it('drops dangerous keys at any depth JSON.parse accepts', () => {
    for (const depth of [3_000, 200_000]) {
      const value = parseStored(deepText(depth))
      assert.equal(depthOf(value), depth)
      assert.deepEqual({ ...innermost(value) }, { keep: 'A' })
      assert.equal(Object.hasOwn(innermost(value), '__proto__'), false)
      assert.equal(Object.hasOwn(innermost(value), 'constructor'), false)
    }
  })

  it('drops __proto__ and constructor at every depth, however they are spelled, and nothing else', () => {
    const value = parseStored(
      '{"a":[{"__proto__":{"x":1},"b":2},{"\\u0063onstructor":{"prototype":{"y":1}}}],"\\u005f_proto__":1,"c":{"d":3}}',
    ) as Record<string, unknown>
    assert.deepEqual(JSON.parse(JSON.stringify(value)), { a: [{ b: 2 }, {}], c: { d: 3 } })
    assert.equal(Object.hasOwn(value, '__proto__'), false)
    assert.equal(({} as Record<string, unknown>).x, undefined)
    assert.equal(parseStored('{"broken'), undefined)
    assert.equal(parseStored('"constructor"'), 'constructor', 'a string value is data, not a key')
  })

  it('jsonDepth measures nesting outside strings, and stops once past the limit', () => {
    assert.equal(jsonDepth('1'), 0)
    assert.equal(jsonDepth('"[[["'), 0)
    assert.equal(jsonDepth('[]'), 1)
    assert.equal(jsonDepth('{"a":[1,{"b":[]}]}'), 4)
    assert.equal(jsonDepth('["\\"[[", {"k\\\\":[["]"]]}]'), 4)
    assert.equal(jsonDepth('[[1],[2],[[3]]]'), 3)
    const deep = deepText(1_000_000, '1')
    assert.equal(jsonDepth(deep), 999_999)
    assert.equal(jsonDepth(deep, 64), 65, 'one more than the limit: too deep')
    assert.equal(jsonDepth('[[[]]]', 3), 3)
  })
})
