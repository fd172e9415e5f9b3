/** Node-style callback accepted by every session method besides the returned promise. */
export type Callback = (error?: unknown) => void

/** Options of `regenerate()`. */
export interface RegenerateOptions {
  /** Carry the data (and user) over to the new ID. Default false: the new session starts empty. */
  keep?: boolean
}

/**
 * The shape of your session data. Extend it by declaration merging:
 * `declare module 'coatcheck' { interface SessionData { cart: Item[] } }`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by the app through declaration merging
export interface SessionData {}

/** The members `req.session` has besides your data. None of them is enumerable or stored. */
export interface SessionMembers {
  /** The session's store key: the SHA-256 of the cookie token, never the token itself. */
  readonly id: string
  /** The logged-in user, or null. */
  readonly userId: string | null
  /** New ID; the old record is deleted. Data and user are kept only with `{ keep: true }`. */
  regenerate(options?: RegenerateOptions, callback?: Callback): Promise<void>
  regenerate(callback: Callback): Promise<void>
  /** Deletes the session; the response expires the cookie and `req.session` becomes a new, empty session. */
  destroy(callback?: Callback): Promise<void>
  /** Writes pending changes now rather than when the response leaves. */
  save(callback?: Callback): Promise<void>
  /** Re-reads the session from the store, dropping unsaved changes. */
  reload(callback?: Callback): Promise<void>
  /** Writes activity now, even if a lazy touch is not due yet. */
  touch(callback?: Callback): Promise<void>
}

/** `req.session`: your data (typed by `SessionData`) plus the session's members. */
export type Session = SessionMembers & Partial<SessionData>

declare global {
  namespace Express {
    interface Request {
      /** The session of this request (coatcheck). */
      session: Session
    }
    /** Modern mode declares `req.session`: the drop-in face's declaration steps aside for it. */
    interface CoatcheckFaces {
      modern: true
    }
  }
}
