import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { cookieMaxAge, expiryOf, newRecord, slidDeadline, touchDue } from '../../src/session/record.ts'

const HOUR = 3_600_000
const rules = { idleTimeout: HOUR, absoluteTimeout: 10 * HOUR, rolling: true, touchAfter: 60_000 }
const contents = { data: {}, userId: null, meta: {} }

describe('record rules (pure)', () => {
  it('a new record starts both deadlines now; a carried one keeps its creation and absolute deadline', () => {
    const fresh = newRecord(rules, 1000, contents)
    assert.deepEqual(
      { ...fresh, data: undefined, meta: undefined },
      {
        data: undefined,
        meta: undefined,
        userId: null,
        createdAt: 1000,
        lastSeenAt: 1000,
        expiresAt: 1000 + HOUR,
        absoluteExpiresAt: 1000 + 10 * HOUR,
      },
    )
    const carried = newRecord(rules, 5 * HOUR, contents, { createdAt: 0, absoluteExpiresAt: 5 * HOUR + 1000 })
    assert.equal(carried.createdAt, 0)
    assert.equal(carried.expiresAt, 5 * HOUR + 1000, 'the idle deadline never passes the absolute one')
  })

  it('expiry: absolute first, then idle, each capped by the options whatever the store says', () => {
    const record = newRecord(rules, 0, contents)
    assert.equal(expiryOf(record, HOUR - 1, rules), undefined)
    assert.equal(expiryOf(record, HOUR, rules), 'idle')
    assert.equal(expiryOf({ ...record, expiresAt: 100 * HOUR }, 2 * HOUR, rules), 'idle', 'lastSeenAt + idleTimeout')
    const lax = { ...record, expiresAt: 100 * HOUR, absoluteExpiresAt: 100 * HOUR, lastSeenAt: 10 * HOUR }
    assert.equal(expiryOf(lax, 10 * HOUR, rules), 'absolute', 'createdAt + absoluteTimeout')
  })

  it('touch is due after touchAfter when rolling; the deadline slides but never past the absolute one', () => {
    const stored = newRecord(rules, 0, contents)
    assert.equal(touchDue(stored, 59_999, rules), false)
    assert.equal(touchDue(stored, 60_000, rules), true)
    assert.equal(touchDue(stored, 60_000, { ...rules, rolling: false }), false)
    assert.equal(slidDeadline(stored, 30 * 60_000, rules), 30 * 60_000 + HOUR)
    assert.equal(slidDeadline(stored, 9.5 * HOUR, rules), 10 * HOUR)
    assert.equal(slidDeadline(stored, 30 * 60_000, { ...rules, rolling: false }), HOUR)
  })

  it('the cookie Max-Age is whole seconds, at least one', () => {
    assert.equal(cookieMaxAge(10_500, 0), 11)
    assert.equal(cookieMaxAge(10, 10), 1)
  })
})
