import type { CoatcheckStore, SessionStore } from '../stores/types.ts'

/**
 * Deletes every session of `userId` and, when the store keeps them, every remember-me token: one user's whole
 * footprint, in O(their sessions). Resolves how many sessions went.
 */
export async function destroyUser(store: SessionStore | CoatcheckStore, userId: string): Promise<number> {
  const removed = await store.destroyByUser(userId)
  if ('tokens' in store) await store.tokens.destroyByUser(userId)
  return removed
}
