/**
 * The store contract. A backend implements three small async contracts and nothing else: sessions (the store object
 * itself), remember-me tokens (`tokens`) and rate-limit counters (`counters`). Expiry rules, hashing, merging and
 * events live above them, once.
 *
 * Keys are opaque strings chosen by the engine (in modern mode the SHA-256 of the session token). Times are epoch
 * milliseconds from the engine's clock. A backend also drops records whose `expiresAt` has passed by its own clock
 * (TTL, sweep or prune); the engine checks the deadlines again on every read, so a store never has to be exact.
 */

/**
 * Session data as stored: each top-level key maps to the JSON text of its value. Stores keep these strings as they
 * are and never parse them; the engine parses lazily and safely.
 */
export type StoredData = Record<string, string>

/** Free-form, JSON-safe facts about a session that are not user data (login IP, user agent, auth time...). */
export type SessionMeta = Record<string, string | number | boolean | null>

/** One session as a store holds it. */
export interface SessionRecord {
  /** Top-level keys of the session data, each as JSON text. */
  data: StoredData
  /** The logged-in user, or null. Sessions with a user are indexed under it. */
  userId: string | null
  /** Facts about the session that are not user data. */
  meta: SessionMeta
  /** When the record was created. */
  createdAt: number
  /** The last activity that was written (lazy: not every request writes it). */
  lastSeenAt: number
  /** The effective deadline: the idle deadline capped by the absolute one. A store's TTL follows it. */
  expiresAt: number
  /** The absolute deadline, which activity never extends. */
  absoluteExpiresAt: number
}

/** A change to a stored session. Applied atomically, and only to a record that still exists. */
export interface SessionPatch {
  /** Top-level keys to set, each to its JSON text. */
  set?: StoredData
  /** Top-level keys to remove. */
  unset?: string[]
  /** New user (null logs out); the per-user index follows. */
  userId?: string | null
  /** Replaces `meta` as a whole. */
  meta?: SessionMeta
  lastSeenAt?: number
  expiresAt?: number
  absoluteExpiresAt?: number
}

/** A session listed for its user. */
export interface SessionEntry {
  key: string
  record: SessionRecord
}

/** The sessions contract. */
export interface SessionStore {
  /**
   * The record under `key`, or undefined when there is none or it has expired. The caller never mutates what it gets
   * (a store may hand out frozen or shared objects).
   */
  get(key: string): Promise<SessionRecord | undefined>
  /** Stores a new record. Resolves false, writing nothing, when `key` already holds a live record. */
  create(key: string, record: SessionRecord): Promise<boolean>
  /** Applies `patch` atomically. Resolves false, writing nothing, when the record is gone or expired. */
  update(key: string, patch: SessionPatch): Promise<boolean>
  /** Moves the activity time and deadline forward. Resolves false when the record is gone or expired. */
  touch(key: string, lastSeenAt: number, expiresAt: number): Promise<boolean>
  /** Removes the record; removing a missing one is not an error. */
  destroy(key: string): Promise<void>
  /** The live sessions of one user, in O(that user's sessions). */
  listByUser(userId: string): Promise<SessionEntry[]>
  /** Removes every session of one user except `exceptKey`; resolves the number removed. */
  destroyByUser(userId: string, exceptKey?: string): Promise<number>
  /** Removes expired records (sessions, tokens, counters); resolves the number of sessions removed. */
  prune(): Promise<number>
}

/** A remember-me token as stored. The secret half of the token is kept only as a hash. */
export interface TokenRecord {
  userId: string
  /** Hash of the token's secret half (the verifier). */
  hash: string
  createdAt: number
  expiresAt: number
}

/** The remember-me tokens contract. `id` is the token's public selector. */
export interface TokenStore {
  /** Stores a new token. Resolves false, writing nothing, when `id` already holds a live token. */
  create(id: string, record: TokenRecord): Promise<boolean>
  /** The token under `id`, or undefined when there is none or it has expired. */
  get(id: string): Promise<TokenRecord | undefined>
  /**
   * Compare-and-rotate: replaces the hash and deadline only if the stored hash still equals `expectedHash`. Exactly
   * one of two concurrent rotations with the same expected hash wins; the loser resolves false.
   */
  rotate(id: string, expectedHash: string, next: { hash: string; expiresAt: number }): Promise<boolean>
  destroy(id: string): Promise<void>
  /** Removes every token of one user; resolves the number removed. */
  destroyByUser(userId: string): Promise<number>
}

/** The state of one rate-limit counter after a hit. */
export interface CounterState {
  /** Hits in the current window, this one included. */
  count: number
  /** When the window (set by its first hit, never extended) ends. */
  resetAt: number
}

/** The rate-limit counters contract (fixed windows with INCR + PEXPIRE NX semantics). */
export interface CounterStore {
  /** Counts one hit on `key`. The first hit of a window opens it for `windowMs`. */
  hit(key: string, windowMs: number): Promise<CounterState>
  /** The current window of `key` without counting a hit, or undefined when there is none (or it has ended). */
  peek(key: string): Promise<CounterState | undefined>
  /** Forgets `key`. */
  reset(key: string): Promise<void>
}

/** A complete backend: the sessions contract plus tokens and counters. */
export interface CoatcheckStore extends SessionStore {
  readonly tokens: TokenStore
  readonly counters: CounterStore
  /** Stops timers and releases what the store opened itself (never a client the app passed in). */
  close?(): Promise<void>
}
