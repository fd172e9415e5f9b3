import type { CoatcheckStore, SessionRecord } from './types.ts'

/**
 * A synchronous read of a live session record, for a store that holds its records in this process. The record is
 * frozen, data and meta included, and may be shared with other reads (the memory store keeps its hot records
 * decoded): the engine reads it and never writes it.
 * @internal
 */
export type SessionPeek = (key: string) => SessionRecord | undefined

// Keyed by the store's own `get`: a wrapper around the store (a Proxy that counts or fails calls, say) has another
// `get`, so its reads keep going through it.
const PEEKS = new WeakMap<CoatcheckStore['get'], SessionPeek>()

/**
 * Gives `store` a synchronous read the engine uses to load a session without a promise, a watchdog or a microtask
 * hop before `next()`. Not part of the store contract: a store without one is read through `get`, as always.
 * @internal
 */
export function withPeek<S extends CoatcheckStore>(peek: SessionPeek, store: S): S {
  PEEKS.set(store.get, peek)
  return store
}

/** The synchronous read that goes with the store's `get`, if there is one. @internal */
export function peekSession(store: Pick<CoatcheckStore, 'get'>): SessionPeek | undefined {
  return PEEKS.get(store.get)
}
