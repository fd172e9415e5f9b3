/**
 * The drop-in face's TypeScript declarations: `req.session`, `req.sessionID` and `req.sessionStore` as
 * express-session's, for a program that imports `coatcheck/express-session`.
 *
 * They never collide with other declarations of `Express.Request.session`: they sit in a base interface of
 * `Express.Request`, so a property declared on `Express.Request` itself wins, and the base's `session` becomes
 * `unknown` (so that the winner is assignable to it) whenever another declaration is present: @types/express-session's
 * (recognised by the `generate` of its `sessionStore`), or modern mode's (which names itself in `CoatcheckFaces`).
 * With @types/express-session installed, `req.session` is therefore its type, and `declare module 'express-session'`
 * augmentations keep working; without it, `req.session` is this face's `Session` plus your `SessionData`.
 */
import type { EventEmitter } from 'node:events'
import type { Session } from './session.ts'

/**
 * The shape of your session data in drop-in mode (every key optional on `req.session`). Extend it by declaration
 * merging, as with express-session:
 *
 * @example
 * ```ts
 * declare module 'coatcheck/express-session' {
 *   interface SessionData {
 *     userId: string
 *     views: number
 *   }
 * }
 * ```
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by the app through declaration merging
export interface SessionData {}

/** `req.session` in drop-in mode: express-session's members plus your data. */
export type RequestSession = Session & Partial<SessionData>

/** A session object as a store takes and gives it: the data, and the cookie's attributes under `cookie`. */
export interface StoredSession {
  cookie?: object
}

type Done = (error?: unknown) => void

/**
 * `req.sessionStore`: the store the middleware reads and writes (its `store` option, default a `MemoryStore`), with
 * express-session's callback methods. `touch`, `all`, `length` and `clear` exist where the store has them.
 */
export interface RequestStore extends EventEmitter {
  get(sid: string, callback: (error: unknown, session?: StoredSession | null) => void): unknown
  set(sid: string, session: StoredSession, callback?: Done): unknown
  destroy(sid: string, callback?: Done): unknown
  touch?(sid: string, session: StoredSession, callback?: Done): unknown
  all?(callback: (error: unknown, sessions?: StoredSession[] | Record<string, StoredSession> | null) => void): unknown
  length?(callback: (error: unknown, length?: number) => void): unknown
  clear?(callback?: Done): unknown
}

/** What the drop-in middleware puts on the request, as a base of `Express.Request`. */
export interface DropInRequest {
  /**
   * This request's session: express-session's members (`id`, `cookie`, `regenerate`, `destroy`, `reload`, `save`,
   * `touch`, `resetMaxAge`) and your `SessionData`. Present once the middleware has run, undefined after `destroy()`.
   */
  session: 'modern' extends keyof Express.CoatcheckFaces
    ? unknown
    : Express.Request['sessionStore'] extends { generate(req: never): void }
      ? unknown
      : RequestSession
  /** This request's session ID (`req.session.id`). */
  sessionID: string
  /** The store in use. */
  sessionStore: RequestStore
}

declare global {
  namespace Express {
    /**
     * The coatcheck faces that declare `req.session` in this program, by declaration merging: modern mode adds
     * `modern`, and drop-in mode's declaration then steps aside.
     */
    interface CoatcheckFaces {}
    interface Request extends DropInRequest {}
  }
}
