import type { SessionRecord } from '../../src/stores/types.ts'

export const HOUR = 3_600_000

/** A logged-in session live for an hour, as the PostgreSQL store tests write it; `overrides` replace fields. */
export function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now()
  return {
    data: { cart: '[1,2]' },
    userId: 'u1',
    meta: { ip: '::1' },
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + HOUR,
    absoluteExpiresAt: now + 2 * HOUR,
    ...overrides,
  }
}
