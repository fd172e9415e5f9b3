import { parseStored } from '../core/json.ts'
import { checkDataKey } from '../core/keys.ts'
import { CoatcheckError } from '../errors.ts'
import { entryBytes } from '../stores/size.ts'
import type { StoredData } from '../stores/types.ts'

/**
 * Names that belong to coatcheck, not to session data; `__proto__`, `constructor` and `prototype` are never keys, and
 * `cookie` and `__coatcheck` are where an express-session store keeps the cookie and coatcheck's own facts.
 */
export const RESERVED: ReadonlySet<string> = new Set([
  'id',
  'userId',
  'regenerate',
  'destroy',
  'save',
  'reload',
  'touch',
  '__proto__',
  'constructor',
  'prototype',
  'cookie',
  '__coatcheck',
])

/** The object whose members the reserved names resolve to (the request's session context). */
export interface Reserved {
  /** Told when the first key becomes dirty: the session may now need a commit. */
  dataChanged(): void
}

/** The changes since the last write, as a store patch would carry them. */
export interface DataDiff {
  set: StoredData
  unset: string[]
  /** True when `set` or `unset` holds anything. */
  changed: boolean
  /** Serialized size of what `set` writes (keys + JSON texts), in bytes: all of a session's data when it is new. */
  setBytes: number
  /**
   * Serialized size, in the stored data, of the keys `set` and `unset` replace or remove; for a session carried to a
   * new ID and not yet written, the whole size of the one it was carried from.
   */
  replacedBytes: number
  /** The tracker's change count when the diff was taken: a key changed after it stays dirty once this is written. */
  generation: number
}

/**
 * The data of one session, exposed as a plain-looking object (a Proxy) that tracks which top-level keys may have
 * changed. Stored values stay JSON text until read. A key is dirty (may have changed) when it is assigned, deleted, or
 * read while holding an object (which the caller may mutate in place); at write time only dirty keys are serialized and
 * compared with what the store holds. The tracker is its own Proxy handler, so a request allocates no closures here.
 */
export class SessionDataTracker implements ProxyHandler<Record<string, unknown>> {
  /**
   * The JSON text per key as the store holds it: the store's object, never written. What a write changed goes to
   * `unapplied`, and is applied to a copy only if this request reads `stored` again (most never do).
   */
  private stored: StoredData
  private ownsStored = false
  private unapplied: DataDiff[] | undefined = undefined
  /** See `withValues`: the size of the session this one's data was carried from, until it is first written. */
  private carriedBytes = 0
  /** Keys assigned, deleted, or read while holding an object. A dirty key is never parsed from `stored` again. */
  /** Counts changes; `changedAt` holds the count at each dirty key's last change. */
  private generation = 0
  private readonly changedAt = new Map<string, number>()
  private readonly dirty = new Set<string>()
  private readonly values: Record<string, unknown> = Object.create(null)
  private readonly reserved: Reserved
  readonly proxy: Record<string, unknown>

  constructor(stored: StoredData, reserved: Reserved) {
    this.stored = stored
    this.reserved = reserved
    this.proxy = new Proxy(this.values, this)
  }

  /**
   * A tracker for a new session that starts with `values` (all of them to be written). `carriedBytes` is the stored
   * size of the session they were carried from (a login or a kept regenerate): until the first write, the new
   * record counts as replacing that much, so a session stored under a larger bound may move to its new ID as it is.
   * The keys are not checked again: each was set through a tracker (checked then) or read from a stored record, and
   * one the store holds is carried as it is (an express-session key over 128 characters, moved by upgradeSessions).
   */
  static withValues(values: Record<string, unknown>, reserved: Reserved, carriedBytes = 0): SessionDataTracker {
    const tracker = new SessionDataTracker({}, reserved)
    for (const key of Object.keys(values)) {
      tracker.values[key] = values[key]
      tracker.markDirty(key)
    }
    tracker.carriedBytes = carriedBytes
    return tracker
  }

  /** Every key with its current value (parsing what has not been read yet). */
  snapshot(): Record<string, unknown> {
    const copy: Record<string, unknown> = {}
    for (const key of this.keys()) copy[key] = this.value(key)
    return copy
  }

  /** False when no key was assigned, deleted or read as an object, so `diff()` would certainly be empty. */
  mayHaveChanged(): boolean {
    return this.dirty.size > 0
  }

  diff(): DataDiff {
    const stored = this.current()
    const set: StoredData = {}
    const unset: string[] = []
    let setBytes = 0
    let replacedBytes = 0
    for (const key of this.dirty) {
      const json = Object.hasOwn(this.values, key) ? serialize(key, this.values[key]) : undefined
      const before = this.isStored(key) ? stored[key]! : undefined
      if (json === undefined) {
        if (before === undefined) continue
        unset.push(key)
      } else if (before !== json) {
        set[key] = json
        setBytes += entryBytes(key, json)
      } else continue
      if (before !== undefined) replacedBytes += entryBytes(key, before)
    }
    const changed = unset.length > 0 || setBytes > 0
    return {
      set,
      unset,
      changed,
      setBytes,
      replacedBytes: replacedBytes + this.carriedBytes,
      generation: this.generation,
    }
  }

  /**
   * The serialized size of the data as the store holds it (or, not yet written, as it was carried from): a pass over
   * every stored key.
   */
  storedBytes(): number {
    const stored = this.current()
    let bytes = this.carriedBytes
    for (const key in stored) if (this.isStored(key)) bytes += entryBytes(key, stored[key]!)
    return bytes
  }

  /** The serialized size of the whole data once `diff` is written (`replacedBytes` counts what was carried, too). */
  sizeAfter(diff: DataDiff): number {
    return this.storedBytes() + diff.setBytes - diff.replacedBytes
  }

  /** Records that `diff` reached the store. Keys holding objects stay dirty: they can still be mutated in place. */
  written(diff: DataDiff): void {
    if (diff.changed) {
      this.unapplied ??= []
      this.unapplied.push(diff)
      this.carriedBytes = 0
    }
    for (const key of this.dirty) {
      const value = this.values[key]
      // A key changed again while this write was in flight (an unawaited save) must still be written.
      if ((this.changedAt.get(key) ?? 0) > diff.generation) continue
      if (typeof value !== 'object' || value === null) {
        this.dirty.delete(key)
        this.changedAt.delete(key)
      }
    }
  }

  // Proxy traps: `req.session` is `values` seen through these.

  get(target: Record<string, unknown>, key: string | symbol): unknown {
    if (typeof key === 'symbol') return undefined
    if (RESERVED.has(key)) {
      const member = (this.reserved as unknown as Record<string, unknown>)[key]
      return typeof member === 'function' ? member.bind(this.reserved) : member
    }
    const value = this.value(key)
    if (typeof value === 'object' && value !== null) this.markDirty(key)
    return target[key]
  }

  set(target: Record<string, unknown>, key: string | symbol, value: unknown): boolean {
    if (typeof key === 'symbol' || RESERVED.has(key)) return refuse(key)
    checkDataKey(key)
    target[key] = value
    this.markDirty(key)
    return true
  }

  deleteProperty(target: Record<string, unknown>, key: string | symbol): boolean {
    if (typeof key === 'symbol' || RESERVED.has(key)) return refuse(key)
    delete target[key]
    this.markDirty(key)
    return true
  }

  has(target: Record<string, unknown>, key: string | symbol): boolean {
    if (typeof key === 'symbol') return false
    return RESERVED.has(key) || Object.hasOwn(target, key) || (!this.dirty.has(key) && this.isStored(key))
  }

  ownKeys(): string[] {
    const keys = this.keys()
    for (const key of keys) this.value(key)
    return keys
  }

  getOwnPropertyDescriptor(target: Record<string, unknown>, key: string | symbol): PropertyDescriptor | undefined {
    if (typeof key === 'symbol' || RESERVED.has(key)) return undefined
    this.value(key)
    const descriptor = Reflect.getOwnPropertyDescriptor(target, key)
    if (descriptor && typeof descriptor.value === 'object' && descriptor.value !== null) this.markDirty(key)
    return descriptor
  }

  defineProperty(target: Record<string, unknown>, key: string | symbol, descriptor: PropertyDescriptor): boolean {
    if (typeof key === 'symbol' || RESERVED.has(key) || !('value' in descriptor)) return refuse(key)
    return this.set(target, key, descriptor.value)
  }

  setPrototypeOf(): boolean {
    return false
  }

  private markDirty(key: string): void {
    const first = this.dirty.size === 0
    this.dirty.add(key)
    this.changedAt.set(key, ++this.generation)
    if (first) this.reserved.dataChanged()
  }

  /** The current value of `key`, parsing its stored text on first use. */
  private value(key: string): unknown {
    if (!Object.hasOwn(this.values, key) && !this.dirty.has(key) && this.isStored(key)) {
      this.values[key] = parseStored(this.current()[key]!)
    }
    return this.values[key]
  }

  /** `stored` with the writes of this request applied (copying the store's object on the first). */
  private current(): StoredData {
    const pending = this.unapplied
    if (pending === undefined) return this.stored
    this.unapplied = undefined
    if (!this.ownsStored) {
      this.stored = Object.assign(Object.create(null) as StoredData, this.stored)
      this.ownsStored = true
    }
    for (const diff of pending) {
      for (const key in diff.set) this.stored[key] = diff.set[key]!
      for (const key of diff.unset) delete this.stored[key]
    }
    return this.stored
  }

  /** The session's keys: stored ones not deleted, plus assigned ones. */
  private keys(): string[] {
    const keys = Object.keys(this.values)
    const stored = this.current()
    for (const key in stored) {
      if (!RESERVED.has(key) && !this.dirty.has(key) && !Object.hasOwn(this.values, key)) keys.push(key)
    }
    return keys
  }

  private isStored(key: string): boolean {
    return !RESERVED.has(key) && Object.hasOwn(this.current(), key)
  }
}

/** A value's JSON text; a value JSON cannot hold, or one nested deep enough to overflow the stack, is refused. */
function serialize(key: string, value: unknown): string | undefined {
  try {
    return JSON.stringify(value)
  } catch (error) {
    const name = JSON.stringify(key)
    if (error instanceof RangeError) {
      throw new CoatcheckError('SESSION_TOO_DEEP', `coatcheck: session key ${name} nests too deep to store`, 413)
    }
    throw new CoatcheckError(
      'INVALID_VALUE',
      `coatcheck: session key ${name} holds a value JSON cannot store (${String(error)})`,
      500,
      { cause: error },
    )
  }
}

const FIXES: Readonly<Record<string, string>> = {
  userId: 'log a user in with `await logIn(req, userId)` and out with `await logOut(req, res)`',
  id: 'a new ID comes from `await req.session.regenerate()`',
  cookie:
    'cookie attributes are options of `session({ cookie })`; `req.session.cookie` exists in coatcheck/express-session',
}

function refuse(key: string | symbol): never {
  const name = String(key)
  const fix = Object.hasOwn(FIXES, name) ? `; ${FIXES[name]}` : ''
  throw new CoatcheckError('RESERVED_KEY', `coatcheck: \`${name}\` is reserved and cannot be set on a session${fix}`)
}
