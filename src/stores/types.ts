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

/**
 * Free-form facts about a session or a remember-me token that are not user data (login IP, user agent, auth time...):
 * flat JSON scalars. Stores replace it as a whole, never merge it, and read it back as a plain or null-prototype object
 * whose keys are all own properties: a key named `__proto__` or `constructor` is just a key.
 */
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

/**
 * A change to a stored session. Applied atomically, and only to a record that still exists. A session's user and
 * absolute deadline are set once, by `create`: a login or a logout is a new record under a new key.
 */
export interface SessionPatch {
  /** Top-level keys to set, each to its JSON text. */
  set?: StoredData
  /** Top-level keys to remove. */
  unset?: string[]
  /** Replaces `meta` as a whole. */
  meta?: SessionMeta
  lastSeenAt?: number
  expiresAt?: number
  /**
   * The bound on the stored data, checked atomically against what is stored (so concurrent patches cannot pass it
   * together): the data's size is the sum over its top-level keys of the UTF-8 bytes of the key plus those of its
   * JSON text. A patch that would leave the data larger than `maxBytes`, and larger than it was, writes nothing and
   * rejects with `CoatcheckError` `SESSION_TOO_LARGE` (status 413); one that shrinks the data always applies, so a
   * session stored under a larger bound can still be cut down. Default none.
   */
  maxBytes?: number
}

/** Options of {@link SessionStore.create}. */
export interface CreateOptions {
  /**
   * The caller vouches that `key` is new (256 bits from the CSPRNG cannot collide), so a store that would have to
   * read before it writes (a callback store) may skip that read. Stores that check for free in the write ignore it.
   * Never set it for a key that may be taken: the record there may then be replaced. Default false.
   */
  unique?: boolean
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
  create(key: string, record: SessionRecord, options?: CreateOptions): Promise<boolean>
  /**
   * Applies `patch` atomically. Resolves false, writing nothing, when the record is gone or expired; rejects with
   * `SESSION_TOO_LARGE`, writing nothing, when the patch breaks its `maxBytes`.
   */
  update(key: string, patch: SessionPatch): Promise<boolean>
  /** Moves the activity time and deadline forward. Resolves false when the record is gone or expired. */
  touch(key: string, lastSeenAt: number, expiresAt: number): Promise<boolean>
  /**
   * Removes the record. Resolves true when it removed a live (unexpired) one, false when there was none: the engine
   * carries a login over to a new key only when the old record was still live, so a revocation racing the request
   * sticks. Removing a missing or expired record is not an error.
   */
  destroy(key: string): Promise<boolean>
  /** The live sessions of one user, in O(that user's sessions). */
  listByUser(userId: string): Promise<SessionEntry[]>
  /** Removes every session of one user except `exceptKey`; resolves the number removed. */
  destroyByUser(userId: string, exceptKey?: string): Promise<number>
  /** Removes expired records (sessions, tokens, counters); resolves the number of sessions removed. */
  prune(): Promise<number>
}

/** A remember-me token as stored. The secret half of the token is kept only as a hash. */
export interface TokenRecord {
  /** The user the token logs in. Set once, by `create`; the token is indexed under it. */
  userId: string
  /** Hash of the token's secret half (the verifier). */
  hash: string
  /** Facts about the device the token was issued to (`authAt`, `ip`, `ua`, `lastUsedAt`...). */
  meta: SessionMeta
  /** The hash the last rotation replaced (what a concurrent request of the same browser may still present), or null. */
  previousHash: string | null
  /** When the last rotation happened, by the caller's clock, or null when the token was never rotated. */
  rotatedAt: number | null
  createdAt: number
  expiresAt: number
}

/** What a successful {@link TokenStore.rotate} writes. */
export interface TokenRotation {
  /** The new hash of the secret half. */
  hash: string
  expiresAt: number
  /** Stored as `rotatedAt`. */
  rotatedAt: number
  /** Replaces `meta` as a whole. Default: `meta` is kept. */
  meta?: SessionMeta
}

/** A remember-me token listed for its user. */
export interface TokenEntry {
  /** The token's selector. */
  id: string
  record: TokenRecord
}

/**
 * The remember-me tokens contract. `id` is the token's public selector. A token that has expired counts as missing
 * everywhere, as an expired session does.
 */
export interface TokenStore {
  /** Stores a new token as given. Resolves false, writing nothing, when `id` already holds a live token. */
  create(id: string, record: TokenRecord): Promise<boolean>
  /** The token under `id`, or undefined when there is none or it has expired. The caller never mutates what it gets. */
  get(id: string): Promise<TokenRecord | undefined>
  /**
   * Compare-and-rotate, atomically: only when the token is live and its stored hash equals `expectedHash`, sets `hash`
   * and `expiresAt` from `next`, `previousHash` to `expectedHash`, `rotatedAt` to `next.rotatedAt`, and `meta` when
   * `next` has one; `userId` and `createdAt` never change. Exactly one of two concurrent rotations with the same
   * expected hash wins; the loser resolves false, writing nothing.
   */
  rotate(id: string, expectedHash: string, next: TokenRotation): Promise<boolean>
  destroy(id: string): Promise<void>
  /** The live tokens of one user, in O(that user's tokens), in no particular order. */
  listByUser(userId: string): Promise<TokenEntry[]>
  /** Removes every token of one user; resolves the number of live ones removed. */
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
