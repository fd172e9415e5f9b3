import { afterEach, beforeEach } from 'node:test'
import type { SessionEntry, SessionRecord, SessionStore, TokenEntry, TokenRecord } from '../../../src/stores/types.ts'

/** A backend under test. Durable backends run against real servers, so every test here uses the wall clock. */
export interface ConformanceTarget<S extends SessionStore = SessionStore> {
  /** Shown in the test names. */
  name: string
  /** Called before each test: a fresh, empty store. */
  open(): Promise<S>
  /** Called after each test. Default: `store.close()`, when the store has one. */
  close?(store: S): Promise<void>
  /**
   * The backend drops expired records by itself (Redis TTLs, a callback store's own expiry), so `prune` may find
   * fewer expired sessions than were written. Default false: `prune` must count every one.
   */
  expiresOnItsOwn?: boolean
}

export const HOUR = 3_600_000

/** Opens a fresh store of `target` before each test (and closes it after); the getter returns the current one. */
export function perTest<S extends SessionStore>(target: ConformanceTarget<S>): () => S {
  let store: S | undefined
  beforeEach(async () => {
    store = await target.open()
  })
  afterEach(async () => {
    const closing = store!
    await (target.close ? target.close(closing) : (closing as { close?(): Promise<void> }).close?.())
  })
  return () => store!
}

export function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now()
  return {
    data: { cart: '[1,2]', name: '"Ada"' },
    userId: null,
    meta: { ip: '127.0.0.1', fresh: true, logins: 3, device: null },
    createdAt: now - 1000,
    lastSeenAt: now - 500,
    expiresAt: now + HOUR,
    absoluteExpiresAt: now + 7 * 24 * HOUR,
    ...overrides,
  }
}

export const expiredSession = (overrides: Partial<SessionRecord> = {}) =>
  session({ expiresAt: Date.now() - 1, ...overrides })

export function token(overrides: Partial<TokenRecord> = {}): TokenRecord {
  const now = Date.now()
  const meta = { authAt: now - 5000, ip: '127.0.0.1', ua: 'Mozilla/5.0 (X11; Linux x86_64) é 🔑', remembered: true }
  return {
    userId: 'u1',
    hash: 'hash-1',
    meta: { ...meta, lastUsedAt: null },
    previousHash: null,
    rotatedAt: null,
    createdAt: now,
    expiresAt: now + HOUR,
    ...overrides,
  }
}

/** A token's meta as a plain object, so records compare equal whatever prototype a backend gives it. */
export function plainToken(record: TokenRecord | undefined): TokenRecord | undefined {
  return record && { ...record, meta: { ...record.meta } }
}

export const sortedTokens = (entries: TokenEntry[]) =>
  entries.map((e) => ({ id: e.id, record: plainToken(e.record) })).sort((a, b) => (a.id < b.id ? -1 : 1))

/** Data and meta as plain objects, so records compare equal whatever prototype a backend gives them. */
export function plain(record: SessionRecord | undefined): SessionRecord | undefined {
  return record && { ...record, data: { ...record.data }, meta: { ...record.meta } }
}

export const sorted = (entries: SessionEntry[]) =>
  entries.map((e) => ({ key: e.key, record: plain(e.record) })).sort((a, b) => (a.key < b.key ? -1 : 1))
