import type { LegacySession, LegacyStore, StoreCallback } from '../../../src/stores/legacy/adapter.ts'

/**
 * A tiny store whose callbacks run synchronously, before `get`/`set`/`destroy` return (issue 10, point 5). It keeps
 * each session as JSON text, and its `all()` answers an object map of id → session, as express-session's MemoryStore.
 */
export function synchronousStore(): LegacyStore & { sessions: Map<string, string>; calls: string[] } {
  const sessions = new Map<string, string>()
  const calls: string[] = []
  return {
    sessions,
    calls,
    get(sid: string, callback: StoreCallback) {
      calls.push('get')
      const json = sessions.get(sid)
      callback(null, json === undefined ? null : JSON.parse(json))
    },
    set(sid: string, session: LegacySession, callback: StoreCallback) {
      calls.push('set')
      sessions.set(sid, JSON.stringify(session))
      callback(null)
    },
    destroy(sid: string, callback: StoreCallback) {
      calls.push('destroy')
      sessions.delete(sid)
      callback(null)
    },
    all(callback: StoreCallback) {
      callback(null, Object.fromEntries([...sessions].map(([sid, json]) => [sid, JSON.parse(json)])))
    },
  }
}

/** How a store's `all()` lays out its answer; see `src/stores/legacy/rows.ts`. */
export type RowShape = (sid: string, json: string) => unknown

/** better-sqlite3-session-store's `all()`: its raw rows, the session as JSON text. */
export const sqliteRows: RowShape = (sid, json) => ({ sid, sess: json, expire: new Date().toISOString() })
/** Rows of a document store: the ID as `_id`, the session an object. */
export const documentRows: RowShape = (sid, json) => ({ _id: sid, session: JSON.parse(json) })
/** connect-mongo's `all()`: the sessions alone, without their IDs. */
export const withoutIds: RowShape = (_sid, json) => JSON.parse(json)

/** An asynchronous store (callbacks on a later tick) whose `all()` answers an array of rows shaped by `shape`. */
export function rowStore(shape: RowShape): LegacyStore & { sessions: Map<string, string> } {
  const sessions = new Map<string, string>()
  const later = (callback: StoreCallback, value?: unknown) => setImmediate(callback, null, value)
  return {
    sessions,
    get(sid: string, callback: StoreCallback) {
      const json = sessions.get(sid)
      later(callback, json === undefined ? null : JSON.parse(json))
    },
    set(sid: string, session: LegacySession, callback: StoreCallback) {
      sessions.set(sid, JSON.stringify(session))
      later(callback)
    },
    destroy(sid: string, callback: StoreCallback) {
      sessions.delete(sid)
      later(callback)
    },
    all(callback: StoreCallback) {
      later(
        callback,
        [...sessions].map(([sid, json]) => shape(sid, json)),
      )
    },
  }
}
