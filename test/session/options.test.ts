import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CoatcheckError, memoryStore, session } from '../../src/index.ts'
import type { SessionOptions } from '../../src/session/options.ts'
import { SECRET } from './harness.ts'

function rejects(options: Record<string, unknown>, option: string) {
  assert.throws(
    () => session(options as unknown as SessionOptions),
    (error: unknown) =>
      error instanceof CoatcheckError && error.code === 'INVALID_OPTION' && error.message.includes(`\`${option}\``),
    `expected an error naming ${option} for ${JSON.stringify(options)}`,
  )
}

describe('option validation at start-up', () => {
  it('requires a secret of at least 32 characters, alone or in a non-empty list', () => {
    rejects({}, 'secret')
    rejects({ secret: 'short' }, 'secret')
    rejects({ secret: [] }, 'secret')
    rejects({ secret: [SECRET, 'short'] }, 'secret')
    rejects({ secret: 42 }, 'secret')
    assert.equal(typeof session({ secret: [SECRET, `${SECRET}-old`] }), 'function')
  })

  it('names every bad option', () => {
    const base = { secret: SECRET }
    rejects({ ...base, idleTimeout: 0 }, 'idleTimeout')
    rejects({ ...base, idleTimeout: 1.5 }, 'idleTimeout')
    rejects({ ...base, absoluteTimeout: -1 }, 'absoluteTimeout')
    rejects({ ...base, absoluteTimeout: '7d' }, 'absoluteTimeout')
    rejects({ ...base, idleTimeout: 1000, touchAfter: 1000 }, 'touchAfter')
    rejects({ ...base, touchAfter: -1 }, 'touchAfter')
    rejects({ ...base, rolling: 'yes' }, 'rolling')
    rejects({ ...base, maxBytes: 0 }, 'maxBytes')
    rejects({ ...base, storeTimeout: Number.POSITIVE_INFINITY }, 'storeTimeout')
    rejects({ ...base, trustProxy: 'loopback' }, 'trustProxy')
    rejects({ ...base, now: 123 }, 'now')
    rejects({ ...base, onEvent: 'log' }, 'onEvent')
    rejects({ ...base, store: {} }, 'store')
    rejects({ ...base, store: { ...memoryStore(), touch: undefined } }, 'store')
    rejects({ ...base, name: 'bad name' }, 'name')
    rejects({ ...base, name: '__Host-sid' }, 'name')
    rejects({ ...base, name: '__Host-sid', cookie: { secure: true, path: '/app' } }, 'name')
    rejects({ ...base, name: '__Secure-sid', cookie: { secure: 'auto' } }, 'name')
    rejects({ ...base, cookie: { sameSite: 'none', secure: false } }, 'cookie.sameSite')
    rejects({ ...base, cookie: { sameSite: 'sometimes' } }, 'cookie.sameSite')
    rejects({ ...base, cookie: { path: 'app' } }, 'cookie.path')
    rejects({ ...base, cookie: { path: '/a;b' } }, 'cookie.path')
    rejects({ ...base, cookie: { domain: 'exa mple.com' } }, 'cookie.domain')
    rejects({ ...base, cookie: { secure: 'yes' } }, 'cookie.secure')
    rejects({ ...base, cookie: { httpOnly: 1 } }, 'cookie.httpOnly')
    rejects({ ...base, cookie: { priority: 'urgent' } }, 'cookie.priority')
    rejects({ ...base, cookie: { maxAge: 1000 } }, 'cookie.maxAge')
    rejects({ ...base, idletimeout: 1000 }, 'idletimeout')
  })

  it('accepts every documented option', () => {
    const middleware = session({
      secret: SECRET,
      store: memoryStore(),
      name: '__Host-app',
      cookie: { secure: true, path: '/', httpOnly: true, sameSite: 'strict', partitioned: true, priority: 'high' },
      idleTimeout: 60_000,
      absoluteTimeout: 120_000,
      rolling: false,
      touchAfter: 0,
      trustProxy: 1,
      maxBytes: 1024,
      storeTimeout: 500,
      now: Date.now,
      onEvent: () => {},
    })
    assert.equal(typeof middleware, 'function')
  })
})
