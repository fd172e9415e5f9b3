import type { CoatcheckStore, SessionStore } from '../stores/types.ts'

/**
 * Deletes every session of `userId` and, when the store keeps them, every remember-me token: one user's whole
 * footprint, in O(their sessions). Resolves how many sessions went. Tokens go first: a remember-me restore stores its
 * session before it checks its token again, so one racing this ends anonymous either way.
 */
export async function destroyUser(store: SessionStore | CoatcheckStore, userId: string): Promise<number> {
  if ('tokens' in store) await store.tokens.destroyByUser(userId)
  return store.destroyByUser(userId)
}
